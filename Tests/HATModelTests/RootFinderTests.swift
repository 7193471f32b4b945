import Solvers
import XCTest

final class RootFinderTests: XCTestCase {
    /// Powell's badly scaled function: a standard hard test for hybrid methods (root ≈ (1.098e-5, 9.106)).
    func testPowellBadlyScaled() {
        let finder = HybridRootFinder(tolerance: 1e-12)
        let r = finder.solve(from: [0, 1]) { x in [1e4 * x[0] * x[1] - 1, exp(-x[0]) + exp(-x[1]) - 1.0001] }
        XCTAssertTrue(r.converged, "\(r.reason)")
        XCTAssertEqual(r.x[0], 1.098159329699759e-5, accuracy: 1e-12)
        XCTAssertEqual(r.x[1], 9.106146739867318, accuracy: 1e-7)
    }

    /// Rosenbrock as a system: 10(x₂ − x₁²) = 0, 1 − x₁ = 0 from the classic start.
    func testRosenbrockSystem() {
        let r = HybridRootFinder(tolerance: 1e-12).solve(from: [-1.2, 1]) { x in [10 * (x[1] - x[0] * x[0]), 1 - x[0]] }
        XCTAssertTrue(r.converged)
        XCTAssertEqual(r.x[0], 1, accuracy: 1e-10)
        XCTAssertEqual(r.x[1], 1, accuracy: 1e-10)
    }

    /// Trial points with non-finite residuals shrink the step instead of failing.
    func testRecoversFromInfeasibleTrialPoints() {
        let r = HybridRootFinder(tolerance: 1e-12).solve(from: [3]) { x in
            x[0] <= 0 ? [.nan] : [log(x[0]) + x[0] - 2]
        }
        XCTAssertTrue(r.converged)
        XCTAssertEqual(log(r.x[0]) + r.x[0], 2, accuracy: 1e-12)
    }

    func testReportsIterationLimitAndMonitorsEveryIteration() {
        var lines = 0
        let r = HybridRootFinder(tolerance: 1e-14, maxIterations: 2)
            .solve(from: [-1.2, 1], monitor: { _ in lines += 1 }) { x in [10 * (x[1] - x[0] * x[0]), 1 - x[0]] }
        XCTAssertEqual(r.reason, .maxIterations)
        XCTAssertFalse(r.converged)
        XCTAssertEqual(r.iterations, 2)
        XCTAssertEqual(lines, 3)   // iteration 0 and two steps
    }

    func testNoRootIsNotConverged() {
        let r = HybridRootFinder(tolerance: 1e-10).solve(from: [1]) { x in [x[0] * x[0] + 1] }
        XCTAssertFalse(r.converged)
    }

    func testNonFiniteStart() {
        let r = HybridRootFinder(tolerance: 1e-10).solve(from: [1]) { _ in [.infinity] }
        XCTAssertEqual(r.reason, .nonFiniteInitialResidual)
    }
}
