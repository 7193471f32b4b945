import Solvers
import XCTest

final class RootFinderTests: XCTestCase {
    /// Powell's badly scaled function: a standard hard test for hybrid methods (root ≈ (1.098e-5, 9.106)).
    func testPowellBadlyScaled() throws {
        let finder = HybridRootFinder(tolerance: 1e-12)
        let r = try finder.solve(from: [0, 1]) { x in [1e4 * x[0] * x[1] - 1, exp(-x[0]) + exp(-x[1]) - 1.0001] }
        XCTAssertTrue(r.converged, "\(r.reason)")
        XCTAssertEqual(r.x[0], 1.098159329699759e-5, accuracy: 1e-12)
        XCTAssertEqual(r.x[1], 9.106146739867318, accuracy: 1e-7)
    }

    /// Rosenbrock as a system: 10(x₂ − x₁²) = 0, 1 − x₁ = 0 from the classic start.
    func testRosenbrockSystem() throws {
        let r = try HybridRootFinder(tolerance: 1e-12).solve(from: [-1.2, 1]) { x in [10 * (x[1] - x[0] * x[0]), 1 - x[0]] }
        XCTAssertTrue(r.converged)
        XCTAssertEqual(r.x[0], 1, accuracy: 1e-10)
        XCTAssertEqual(r.x[1], 1, accuracy: 1e-10)
    }

    /// Trial points with non-finite residuals shrink the step instead of failing.
    func testRecoversFromInfeasibleTrialPoints() throws {
        let r = try HybridRootFinder(tolerance: 1e-12).solve(from: [3]) { x in
            x[0] <= 0 ? [.nan] : [log(x[0]) + x[0] - 2]
        }
        XCTAssertTrue(r.converged)
        XCTAssertEqual(log(r.x[0]) + r.x[0], 2, accuracy: 1e-12)
    }

    func testReportsIterationLimitAndMonitorsEveryIteration() throws {
        var lines = 0
        let r = try HybridRootFinder(tolerance: 1e-14, maxIterations: 2)
            .solve(from: [-1.2, 1], monitor: { _ in lines += 1; return .proceed }) { x in [10 * (x[1] - x[0] * x[0]), 1 - x[0]] }
        XCTAssertEqual(r.reason, .maxIterations)
        XCTAssertFalse(r.converged)
        XCTAssertEqual(r.iterations, 2)
        XCTAssertEqual(lines, 3)   // iteration 0 and two steps
    }

    func testNoRootIsNotConverged() throws {
        let r = try HybridRootFinder(tolerance: 1e-10).solve(from: [1]) { x in [x[0] * x[0] + 1] }
        XCTAssertEqual(r.reason, .notMakingProgress)
    }

    /// An unknown that starts at (nearly) zero still gets a usable difference step: MINPACK's √ε·|x| gave
    /// 3e-18 here, a Jacobian of rounding noise and a stall at 1e-9 (issue 6 §1).
    func testUnknownNearZeroGetsAUsableDifferenceStep() throws {
        let r = try HybridRootFinder(tolerance: 1e-14).solve(from: [-1.8e-10, 0.5]) { x in
            [0.837 * (x[0] + 2e-9) + 1e-3 * (x[1] - 0.5), exp(x[1]) - exp(0.5) + 0.1 * x[0]]
        }
        XCTAssertTrue(r.converged, "\(r.reason)")
        XCTAssertEqual(r.x[0], -2e-9, accuracy: 1e-12)   // the coupling moves it by 1.4e-13
    }

    /// A residual with noise well above the tolerance stops with the noise-floor reason and an estimate of
    /// the noise of the right size.
    func testNoisyResidualStopsAtTheNoiseFloor() throws {
        func noise(_ x: Double) -> Double {          // deterministic pseudo-noise of amplitude 1e-8
            let h = sin(x * 1e9) * 43758.5453
            return (h - h.rounded(.down) - 0.5) * 2e-8
        }
        let r = try HybridRootFinder(tolerance: 1e-14).solve(from: [2, 1]) { x in
            [x[0] * x[0] - 1 + noise(x[0] + 3 * x[1]), x[1] - 0.5 * x[0] + noise(2 * x[0] - x[1])]
        }
        XCTAssertEqual(r.reason, .noiseFloor, "max residual \(r.residualMax)")
        XCTAssertGreaterThan(r.noise ?? 0, 1e-10)
        XCTAssertLessThan(r.noise ?? 1, 1e-7)
        XCTAssertEqual(r.x[0], 1, accuracy: 1e-6)
    }

    /// A flat residual (zero slope everywhere: the analogue of every household at the borrowing limit) is a
    /// stall, not an endless search.
    func testFlatResidualIsAStall() throws {
        var evaluations = 0
        let r = try HybridRootFinder(tolerance: 1e-10).solve(from: [0.3]) { x in evaluations += 1; return [x[0] < 5 ? -1.4 : x[0] - 6] }
        XCTAssertEqual(r.reason, .notMakingProgress)
        XCTAssertLessThan(evaluations, 100)
    }

    func testNonFiniteStart() throws {
        let r = try HybridRootFinder(tolerance: 1e-10).solve(from: [1]) { _ in [.infinity] }
        XCTAssertEqual(r.reason, .nonFiniteInitialResidual)
    }
}
