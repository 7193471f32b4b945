import Equilibrium
import Foundation
import XCTest

final class ClosureTests: XCTestCase {
    func testWagesAreMeanOneAndUnknownsRoundTrip() {
        let wages = [1.3, 0.7, 1.1]
        for kind in Closure.allCases {
            // The closure holds R = 1.04 (fixed-rate) or β = 0.95 (the others) fixed; the start guesses R = 1.01, β = 0.93.
            let closure = MarketClosure(kind, rate: 1.04, beta: 0.95)
            XCTAssertEqual(closure.kind, kind)
            let x = closure.unknowns(at: EquilibriumStart(wages: wages, rate: 1.01, beta: 0.93), countries: 3)
            XCTAssertEqual(x.count, closure.unknownCount(countries: 3))
            let p = closure.prices(from: x, countries: 3)
            XCTAssertEqual(p.wages.reduce(0, +) / 3, 1, accuracy: 1e-15)
            for k in 0..<3 { XCTAssertEqual(p.wages[k] / p.wages[2], wages[k] / wages[2], accuracy: 1e-14) }
            switch kind {
            case .worldRate:
                XCTAssertTrue(p.rates.allSatisfy { $0 == 1.01 })
                XCTAssertEqual(p.beta, 0.95)
                XCTAssertEqual(closure.parameter.name, "beta")
            case .fixedRate:
                XCTAssertEqual(p.beta, 0.93, accuracy: 1e-15)
                XCTAssertEqual(p.rates, [1.04, 1.04, 1.04])
                XCTAssertEqual(closure.parameter.name, "R")
            case .autarky:
                for r in p.rates { XCTAssertEqual(r, 1.01, accuracy: 1e-15) }
                XCTAssertEqual(p.beta, 0.95)
            case .worldRateRebate:
                XCTAssertTrue(p.rates.allSatisfy { $0 == 1.01 })
                XCTAssertEqual(p.beta, 0.95)
                XCTAssertEqual(p.transfers, [0, 0, 0], "no tariffs: nothing to rebate, world-rate")
                XCTAssertEqual(x.count, 3)
            }
            // Unknowns → prices → unknowns is the identity (up to rounding).
            let back = closure.unknowns(at: EquilibriumStart(wages: p.wages, rate: p.rates[0], beta: p.beta), countries: 3)
            if kind != .autarky {
                for (a, b) in zip(back, x) { XCTAssertEqual(a, b, accuracy: 1e-14) }
                if kind == .worldRateRebate {
                    let rebating = MarketClosure.worldRateRebate(beta: 0.95, rebating: [0, 2])
                    XCTAssertEqual(rebating.unknownCount(countries: 3), 5)
                    XCTAssertEqual(rebating.unknownNames(countries: ["A", "B", "C"]).suffix(2), ["transfer_A", "transfer_C"])
                    let y = x.prefix(3) + [0.01, 0.03]
                    XCTAssertEqual(rebating.prices(from: Array(y), countries: 3).transfers, [0.01, 0, 0.03])
                }
            } else {
                for (a, b) in zip(back.prefix(2), x.prefix(2)) { XCTAssertEqual(a, b, accuracy: 1e-14) }
            }
        }
    }

    /// Every closure clears its markets on the asymmetric three-country world; Walras' law then clears
    /// the dropped goods market of country 1 too.
    func testAllClosuresClearAllMarkets() throws {
        for closure in Closure.allCases {
            let (config, result, _) = try solve("three-country.toml", overrides: ["equilibrium.closure=\"\(closure.rawValue)\"",
                                                                                 "equilibrium.rate=1.01",
                                                                                 "grid.assets=40"])
            XCTAssertTrue(result.converged, "\(closure): \(result.reason)")
            XCTAssertLessThanOrEqual(result.residualMax, 1e-10)
            let goods = result.report.goodsMarketResiduals(world: config.world)
            // Reported at household tolerance 1e-10 vs solved at 1e-8: residuals are small, not zero.
            for g in goods { XCTAssertEqual(g, 0, accuracy: 1e-6, "\(closure)") }
            // The bond market(s) the closure's own unknowns must clear, recomputed from the reported demands.
            switch closure {
            case .fixedRate, .worldRate, .worldRateRebate:
                XCTAssertEqual(result.report.bondDemand.reduce(0, +), 0, accuracy: 1e-6, "\(closure)")
            case .autarky:
                for b in result.report.bondDemand { XCTAssertEqual(b, 0, accuracy: 1e-6) }
            }
        }
    }
}
