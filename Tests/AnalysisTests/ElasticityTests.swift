import Analysis
import Foundation
import HATModel
import Parallel
import XCTest

/// HAT-SPEC §6.1–§6.2 and §8.2–§8.3: the micro, bilateral and aggregate trade elasticities.
final class ElasticityTests: XCTestCase {
    /// §8.2: the two-country γ = 1.5 notebook's aggregate elasticity −4.122612728432357 (±1e-6).
    func testTwoCountryAggregateElasticityMatchesPublished() throws {
        let (_, result, base) = try analysed("two-country.toml")
        XCTAssertTrue(result.converged)
        let micro = try MicroElasticities.compute(base, communicator: MPIEnvironment.world())
        XCTAssertEqual(micro.unconvergedSolves, 0)
        let bilateral = micro.bilateral(base)
        XCTAssertEqual(bilateral[0], 1, "theta_ii = 1 by construction")
        let shares = importShares(base)
        // The household's aggregate shares are the reported trade shares.
        XCTAssertEqual(shares[1], result.report.tradeShares[0][1], accuracy: 1e-14)
        let aggregate = micro.aggregate(bilateral: bilateral, tradeShares: shares)
        XCTAssertEqual(aggregate, -4.122612728432357, accuracy: 1e-6)
        // §8.2's state values of θπ[:, :, 2] and θc[:, :, 2] (printed to 6 digits) and the first row of
        // new-elasticity.csv.
        let s = base.stateCount, na = base.assetCount
        func at(_ a: Int, _ shock: Int) -> Int { s + (shock - 1) * na + (a - 1) }
        XCTAssertEqual(micro.thetaPi[at(1, 1)], -9.98399, accuracy: 1e-4)
        XCTAssertEqual(micro.thetaPi[at(1, 10)], -3.10012, accuracy: 1e-4)
        XCTAssertEqual(micro.thetaPi[at(100, 10)], -2.44155, accuracy: 1e-4)
        XCTAssertEqual(micro.thetaC[at(1, 1)], -1.0, accuracy: 1e-5)
        XCTAssertEqual(micro.thetaC[at(1, 2)], -0.831032, accuracy: 1e-5)
        XCTAssertEqual(micro.thetaC[at(100, 10)], -0.689447, accuracy: 1e-5)
        XCTAssertEqual(micro.extensive[at(1, 1)], -10.059188536671591, accuracy: 1e-6)
        XCTAssertEqual(micro.intensive[at(1, 1)], -1.0000000000101945, accuracy: 1e-6)
        XCTAssertEqual(micro.total[at(1, 1)], -10.059188536681786, accuracy: 1e-6)
    }

    /// §6.8 / §8.3: with log utility θᴱ ≡ −1/σ and θᴵ ≡ −1 in every state (1e-6), and the aggregate
    /// elasticity is −1/σε (1e-8).
    func testLogUtilityElasticitiesAreExact() throws {
        let (config, result, base) = try analysed("two-country-log.toml")
        XCTAssertTrue(result.converged)
        let micro = try MicroElasticities.compute(base, communicator: MPIEnvironment.world())
        let sigma = config.model.sigmaEps
        let s = base.stateCount
        for k in 0..<s {
            XCTAssertEqual(micro.extensive[s + k], -1 / sigma, accuracy: 1e-6)
            XCTAssertEqual(micro.intensive[s + k], -1, accuracy: 1e-6)
        }
        let aggregate = micro.aggregate(bilateral: micro.bilateral(base), tradeShares: importShares(base))
        XCTAssertEqual(aggregate, -1 / sigma, accuracy: 1e-8)
    }

    /// The same numbers whether the sources are computed by one rank or the work is split: each source's
    /// result depends on the source alone (here: computing the sources one at a time in another order).
    func testPerStateElasticityIsTradeWeightedTotal() throws {
        let (_, _, base) = try analysed("three-country.toml", country: 2, overrides: ["grid.assets=30"])
        let micro = try MicroElasticities.compute(base, communicator: MPIEnvironment.world())
        let perState = micro.stateElasticity(base)
        let e = base.expenditure, theta = micro.total, s = base.stateCount
        for k in stride(from: 0, to: s, by: 7) {
            let w0 = e[base.index(variety: 0, state: k)], w1 = e[base.index(variety: 1, state: k)]
            XCTAssertEqual(perState[k], (theta[k] * w0 + theta[s + k] * w1) / (w0 + w1), accuracy: 1e-12)
            XCTAssertLessThan(perState[k], 0)
        }
    }
}
