import Foundation
import Solvers
import XCTest

final class MonotoneBracketsTests: XCTestCase {
    /// Independent increasing equations, one flat over a wide region (the bond market with every household
    /// at the borrowing limit), one infeasible beyond a point (NaN), are each solved.
    func testFlatAndInfeasibleRegions() {
        let brackets = MonotoneBrackets(tolerance: 1e-12, maxEvaluations: 200, initialStep: 0.02)
        var calls = 0
        let r = brackets.solve(from: [-3, 0], lower: [-.infinity, -.infinity], upper: [.infinity, .infinity],
                               evaluate: { t in
                                   calls += 1
                                   let flat = t[0] < 1 ? -1.4 : tanh(t[0] - 2)       // root at 2, flat below 1
                                   let capped = t[1] > 0.3 ? Double.nan : t[1] * t[1] * t[1] + t[1] - 0.2
                                   return [flat, capped]
                               }, extract: { $0 })
        XCTAssertTrue(r.converged)
        XCTAssertEqual(r.t[0], 2, accuracy: 1e-10)
        let root = r.t[1]
        XCTAssertEqual(root * root * root + root - 0.2, 0, accuracy: 1e-12)
        XCTAssertEqual(r.evaluations, calls)
        XCTAssertLessThan(calls, 200)
    }

    /// An upper bound that may not be reached (log β < 0): the search approaches it without crossing.
    func testBoundIsNeverCrossed() {
        var worst = -Double.infinity
        let r = MonotoneBrackets(tolerance: 1e-13).solve(from: [-1], lower: [-.infinity], upper: [0],
                                                         evaluate: { t in worst = max(worst, t[0]); return [t[0] + 1e-4] },
                                                         extract: { $0 })
        XCTAssertTrue(r.converged)
        XCTAssertEqual(r.t[0], -1e-4, accuracy: 1e-12)
        XCTAssertLessThan(worst, 0)
    }
}
