import Equilibrium
import Foundation
import XCTest

final class ClosureTests: XCTestCase {
    func testWagesAreMeanOneAndUnknownsRoundTrip() {
        let wages = [1.3, 0.7, 1.1]
        for closure in Closure.allCases {
            let x = closure.unknowns(wages: wages, rates: [1.01, 1.02, 1.03], beta: 0.93)
            XCTAssertEqual(x.count, closure.unknownCount(countries: 3))
            let p = closure.prices(from: x, countries: 3, fixedRate: 1.01, beta: 0.93)
            XCTAssertEqual(p.wages.reduce(0, +) / 3, 1, accuracy: 1e-15)
            for k in 0..<3 { XCTAssertEqual(p.wages[k] / p.wages[2], wages[k] / wages[2], accuracy: 1e-14) }
            switch closure {
            case .worldRate:
                XCTAssertTrue(p.rates.allSatisfy { $0 == p.rates[0] })
                XCTAssertEqual(p.rates[0], 1.01, accuracy: 1e-15)
            case .fixedRate: XCTAssertEqual(p.beta, 0.93, accuracy: 1e-15)
            case .autarky:
                for (r, e) in zip(p.rates, [1.01, 1.02, 1.03]) { XCTAssertEqual(r, e, accuracy: 1e-15) }
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
            case .fixedRate, .worldRate:
                XCTAssertEqual(result.report.bondDemand.reduce(0, +), 0, accuracy: 1e-6, "\(closure)")
            case .autarky:
                for b in result.report.bondDemand { XCTAssertEqual(b, 0, accuracy: 1e-6) }
            }
        }
    }
}
