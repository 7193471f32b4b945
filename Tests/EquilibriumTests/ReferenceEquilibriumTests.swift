import Equilibrium
import Foundation
import HATModel
import XCTest

/// The published two-country equilibria (HAT-SPEC §8.2, §8.3).
final class ReferenceEquilibriumTests: XCTestCase {
    func testTwoCountryMatchesPublishedRateAndShares() throws {
        let (_, result, _) = try solve("two-country.toml")
        XCTAssertTrue(result.converged)
        XCTAssertLessThanOrEqual(result.residualMax, 1e-10)
        for r in result.prices.rates { XCTAssertEqual(r, 1.0141938127868286, accuracy: 1e-9) }
        let shares = result.report.tradeShares
        XCTAssertEqual(shares[0][0], 0.900484, accuracy: 5e-7)
        XCTAssertEqual(shares[0][1], 0.099516, accuracy: 5e-7)
        XCTAssertEqual(shares[1][1], 0.900484, accuracy: 5e-7)
        XCTAssertEqual(shares[1][0], 0.099516, accuracy: 5e-7)
        // Symmetric world: wages are one up to the solver tolerance; trade shares sum to one by row.
        for w in result.prices.wages { XCTAssertEqual(w, 1, accuracy: 1e-8) }
    }

    func testLogCaseMatchesPublishedRateAndExactGravity() throws {
        let (config, result, evaluator) = try solve("two-country-log.toml")
        XCTAssertTrue(result.converged)
        for r in result.prices.rates { XCTAssertEqual(r, 1.041309555312993, accuracy: 1e-9) }
        // Exact gravity (§6.8), at the equilibrium's own prices: π_ij/π_ii = (p_ij/p_ii)^(−1/σ) in every state.
        for i in 0..<2 {
            let p = config.world.buyerPrices(importer: i, wages: result.prices.wages)
            let j = 1 - i
            let ratio = pow(p[j] / p[i], -1 / config.model.sigmaEps)
            let expected = ratio / (1 + ratio)
            let hh = evaluator.households[i]!
            let pi = hh.choiceProbabilities
            for s in 0..<hh.shockCount {
                for a in 0..<hh.assetCount {
                    XCTAssertEqual(pi[hh.index(variety: j, shock: s, asset: a)], expected, accuracy: 1e-10)
                }
            }
            // And the spec's statement with d = 2.05 and wages at one: 2.05^-4/(1+2.05^-4), to solver precision.
            XCTAssertEqual(expected, pow(2.05, -4) / (1 + pow(2.05, -4)), accuracy: 1e-8)
            // Aggregate shares inherit it.
            XCTAssertEqual(result.report.tradeShares[i][j], expected, accuracy: 1e-10)
        }
    }
}
