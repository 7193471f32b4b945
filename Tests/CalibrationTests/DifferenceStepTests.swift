import Foundation
import Solvers
import XCTest

/// `DifferenceStep`, the one finite-difference convention: each of its three users gets, bit for bit, the
/// points and quotients its own formula gave before (written out here as they were), including the
/// backward retry, where the users differ.
final class DifferenceStepTests: XCTestCase {
    /// A smooth residual that is infeasible (NaN) above `limit` in coordinate 0.
    static func residual(limit: Double = .infinity) -> ([Double]) -> [Double] {
        { x in x[0] > limit ? [.nan, .nan] : [exp(x[0]) * x[1], x[0] * x[0] - sin(x[1])] }
    }

    /// Coordinates whose step does not round exactly (fl(x + h) − x ≠ h), so every choice shows in the bits.
    let points: [[Double]] = [[0.3, 1.45], [-2.7182818, 0.1], [1e-9, 3.3], [123.456, -0.77]]

    func testRelativeStepWithFloorIsTheRootFindersFormula() {
        let epsilon = Double.ulpOfOne.squareRoot(), floor = 1.0
        for x in points {
            for j in 0..<2 {
                for limit in [Double.infinity, x[0]] {          // forward, and backward after an infeasible point
                    let F = Self.residual(limit: limit), f = F(x)
                    var used: [[Double]] = []
                    let c = DifferenceStep(.relative(epsilon, floor: floor), backward: .mirrorTaken)
                        .column(j, at: x, residual: f) { used.append($0); return F($0) }
                    // The formula as HybridRootFinder.differenceColumn wrote it.
                    var h = epsilon * max(abs(x[j]), floor)
                    var xp = x
                    xp[j] += h
                    h = xp[j] - x[j]
                    var fp = F(xp), points = [xp]
                    if !fp.allSatisfy({ $0.isFinite }) {
                        xp[j] = x[j] - h
                        h = xp[j] - x[j]
                        fp = F(xp); points.append(xp)
                    }
                    XCTAssertEqual(used.map { $0.map(\.bitPattern) }, points.map { $0.map(\.bitPattern) }, "x \(x) j \(j)")
                    XCTAssertEqual(c.values.map(\.bitPattern), (0..<2).map { (fp[$0] - f[$0]) / h }.map(\.bitPattern))
                    XCTAssertEqual(c.evaluations, points.count)
                }
            }
        }
        // The root finder's public column is this convention.
        var finder = HybridRootFinder(tolerance: 1e-10)
        finder.jacobianStep = 1e-6
        let x = points[0], F = Self.residual()
        let a = finder.differenceColumn(1, at: x, residual: F(x), evaluate: F)
        let b = DifferenceStep(.relative(1e-6, floor: finder.typicalMagnitude), backward: .mirrorTaken).column(1, at: x, residual: F(x), evaluate: F)
        XCTAssertEqual(a.column.map(\.bitPattern), b.values.map(\.bitPattern))
    }

    func testAbsoluteStepIsTheCalibrationsFormula() {
        let step = 1e-5
        for x in points {
            for j in 0..<2 {
                for limit in [Double.infinity, x[0]] {
                    let F = Self.residual(limit: limit), f = F(x)
                    var used: [[Double]] = []
                    let c = DifferenceStep(.absolute(step), backward: .mirrorNominal)
                        .column(j, at: x, residual: f) { used.append($0); return F($0) }
                    // The formula as CalibrationRun.differenceColumn wrote it.
                    var expected: (column: [Double], points: [[Double]]) = ([.nan, .nan], [])
                    for direction in [1.0, -1.0] {
                        var xp = x
                        xp[j] += direction * step
                        let h = xp[j] - x[j]
                        let v = F(xp)
                        expected.points.append(xp)
                        if v.allSatisfy({ $0.isFinite }) { expected.column = zip(v, f).map { ($0 - $1) / h }; break }
                    }
                    XCTAssertEqual(used.map { $0.map(\.bitPattern) }, expected.points.map { $0.map(\.bitPattern) }, "x \(x) j \(j)")
                    if c.finite {
                        XCTAssertEqual(c.values.map(\.bitPattern), expected.column.map(\.bitPattern))
                    } else {
                        XCTAssertTrue(expected.column.allSatisfy { $0.isNaN })
                    }
                }
            }
        }
        // Where the two backward rules differ (a coordinate found by search; for most the two round alike):
        // minus the nominal step is not minus the step taken.
        let x = [0.003898015897485933, 1.45], F = Self.residual(limit: 0.003898015897485933)
        var taken: [Double] = [], nominal: [Double] = []
        _ = DifferenceStep(.absolute(step), backward: .mirrorTaken).column(0, at: x, residual: F(x)) { taken = $0; return F($0) }
        _ = DifferenceStep(.absolute(step), backward: .mirrorNominal).column(0, at: x, residual: F(x)) { nominal = $0; return F($0) }
        XCTAssertNotEqual(taken[0], nominal[0])
        XCTAssertEqual(nominal[0], x[0] - step)
    }

    func testNominalDenominatorIsTheSweepTargetsFormula() {
        let relative = 1e-3
        for x in points {
            for j in 0..<2 {
                let F = Self.residual(), f = F(x)
                let c = DifferenceStep(.relative(relative, floor: 0), backward: .none, denominator: .nominal)
                    .column(j, at: x, residual: f, evaluate: F)
                // The formula as SweepTarget's Newton wrote it.
                var xj = x
                let h = relative * abs(x[j])
                xj[j] += h
                let rj = F(xj)
                XCTAssertEqual(c.values.map(\.bitPattern), (0..<2).map { (rj[$0] - f[$0]) / h }.map(\.bitPattern), "x \(x) j \(j)")
                XCTAssertEqual(c.evaluations, 1)
            }
        }
        // No backward retry: an infeasible point is one evaluation and says so.
        let x = [0.3, 1.45]
        let c = DifferenceStep(.relative(relative, floor: 0), backward: .none, denominator: .nominal)
            .column(0, at: x, residual: Self.residual()(x), evaluate: Self.residual(limit: 0.3))
        XCTAssertEqual(c.evaluations, 1)
        XCTAssertFalse(c.finite)
    }

    /// The sweep's ψ̃ secant: its second calibration is the forward point of `psi.step` (absolute), and its
    /// first slope, (g₁ − g₀) / (ψ̃₁ − ψ̃₀), is that column's quotient over the step taken, bit for bit.
    func testPsiSecantFirstStepIsTheAbsoluteForwardDifference() {
        let step = 0.05
        let convention = DifferenceStep(.absolute(step), backward: .none, denominator: .taken)
        let gap: ([Double]) -> [Double] = { [0.02 * tanh(3 * $0[0]) - 0.004] }
        for psi0 in [0.3, -0.123456789, 1e-7, 2.718281828459045] {
            let psi1 = convention.forwardPoint(0, at: [psi0])[0]
            XCTAssertEqual(psi1.bitPattern, (psi0 + step).bitPattern, "\(psi0)")
            let secant = (gap([psi1])[0] - gap([psi0])[0]) / (psi1 - psi0)
            var used: [[Double]] = []
            let c = convention.column(0, at: [psi0], residual: gap([psi0])) { used.append($0); return gap($0) }
            XCTAssertEqual(used.map { $0.map(\.bitPattern) }, [[psi1.bitPattern]])
            XCTAssertEqual(c.values[0].bitPattern, secant.bitPattern, "\(psi0)")
        }
    }
}
