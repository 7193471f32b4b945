import Firms
import Foundation
import Gravity
import TestSupport
import XCTest

/// Gravity as a guide for firms on the Eaton–Kortum data: one shot, the model's own regression returns the
/// data's 46 moments.
final class MelitzGravityCalibrationTests: XCTestCase {
    func testEatonKortumMomentsAreRecoveredInOneShot() throws {
        let data = try EKData.load(directory: ekDirectory)
        let m = data.count
        XCTAssertEqual(m, 19)
        // k = 8.28 (aggregate flows pin only k ln d, so k is given); f_X = f_D keeps every τ at or above 1.
        let c = try MelitzGravityCalibration.calibrate(data: data, sigma: 4, shape: 8.28, entryCosts: Array(repeating: 1, count: m),
                                                       exportFixedCost: 2, domesticFixedCosts: Array(repeating: 2, count: m))
        XCTAssertTrue(c.floored.isEmpty, "\(c.floored)")
        XCTAssertEqual(c.dataMoments.flattened.count, 2 * m + 10)
        XCTAssertLessThan(c.maxMomentGap, 1e-9, "the 46 moments (and the normalised ones)")
        // Every cutoff is interior, but with one f_X some pairs' export cutoffs fall below the exporter's
        // domestic one: Belgium's firms into France, among others. The data cannot say otherwise (only the
        // composite τ f^(1/(σ−1)−1/k) is identified), so the calibration reports it.
        for n in 0..<m { for i in 0..<m { XCTAssertGreaterThanOrEqual(c.solution.cutoffs[n][i], c.world.distributions[i].lowerSupport) } }
        let bel = data.countries.firstIndex(of: "BEL")!, fra = data.countries.firstIndex(of: "FRA")!
        XCTAssertTrue(c.selectionViolations.contains { $0.importer == fra && $0.exporter == bel }, "\(c.selectionViolations)")
        for (n, i) in c.selectionViolations { XCTAssertLessThan(c.solution.cutoffs[n][i], c.solution.cutoffs[i][i]) }
        // The same world solved from w = 1, far from its wages (they span a factor of about 10): the same
        // equilibrium.
        let cold = try MelitzEquilibrium(world: c.world).solve()
        XCTAssertTrue(cold.report.converged, "\(cold.report)")
        for (a, b) in zip(cold.wages, c.solution.wages) { XCTAssertEqual(a, b, accuracy: 1e-10 * b) }
        XCTAssertGreaterThan(c.solution.wages.max()! / c.solution.wages.min()!, 3)
        // The trade costs are the data's: k ln τ_ni − (1−κ) ln(f_X/f_D) = −g_ni, so the model's trade
        // elasticity is −k at fixed wages.
        XCTAssertEqual(c.solution.aggregateMargins.total, -8.28, accuracy: 1e-10)
        // The shares are the regression's fitted shares: their log ratios differ from the data by the
        // regression's residuals, whose sum of squares the model reproduces.
        let fit = try gravityRegression(y: data.logTradeRatios, pairs: data.pairs, countries: m)
        let model = logTradeRatios(tradeShares: c.solution.tradeShares.flatMap { $0 }, pairs: data.pairs, countries: m)
        let ssr = zip(model, data.logTradeRatios).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        XCTAssertEqual(ssr, fit.sumOfSquaredResiduals, accuracy: 1e-8 * fit.sumOfSquaredResiduals)
    }

    /// Lognormal productivity on the calibrated world (medians at the calibrated bounds, which span a factor of
    /// 10^4, and wages a factor of about 10): from w = 1, free entry has no positive solution, so the solve
    /// starts from the closed form of a Pareto surrogate, and reaches the equilibrium found from the Pareto
    /// world's wages.
    func testLognormalWorldWithWideWageDispersionSolvesFromCold() throws {
        let data = try EKData.load(directory: ekDirectory)
        let m = data.count
        let c = try MelitzGravityCalibration.calibrate(data: data, sigma: 4, shape: 8.28, entryCosts: Array(repeating: 1, count: m),
                                                       exportFixedCost: 2, domesticFixedCosts: Array(repeating: 2, count: m))
        for spread in [0.2, 0.6, 1.0] {
            var world = c.world
            world.distributions = c.world.distributions.map { .lognormal(median: $0.lowerSupport, sigma: spread) }
            for n in 0..<m { for i in 0..<m where i != n { world.fixedCosts[n][i] = 8 } }
            let cold = try MelitzEquilibrium(world: world).solve()
            XCTAssertTrue(cold.report.converged, "σ_ln \(spread): \(cold.report)")
            var warm = MelitzEquilibrium(world: world)
            warm.startingWages = c.solution.wages
            let reference = try warm.solve()
            XCTAssertTrue(reference.report.converged)
            for (a, b) in zip(cold.wages, reference.wages) { XCTAssertEqual(a, b, accuracy: 1e-10 * b, "σ_ln \(spread)") }
        }
    }

    /// An export fixed cost far above the domestic one leaves less of the composite to τ and floors some τ
    /// at 1; the calibration says which, and the moments are then no longer matched exactly.
    func testFlooredPairsAreReported() throws {
        let data = try EKData.load(directory: ekDirectory)
        let m = data.count
        let c = try MelitzGravityCalibration.calibrate(data: data, sigma: 4, shape: 8.28, entryCosts: Array(repeating: 1, count: m),
                                                       exportFixedCost: 20, domesticFixedCosts: Array(repeating: 2, count: m))
        XCTAssertFalse(c.floored.isEmpty)
        XCTAssertGreaterThan(c.maxMomentGap, 1e-6)
    }
}
