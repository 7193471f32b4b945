import Analysis
import Foundation
import HATModel
import Parallel
import XCTest

/// MPCs (§6.3) and the cross-section statistics (§6.4).
final class HouseholdOutputsTests: XCTestCase {
    /// A household at the borrowing limit that stays there spends the whole transfer today: mpc_j p_j = 1
    /// for every variety. A rich household (high income, assets well inside the grid: at the grid top saving
    /// is capped and the transfer must be consumed) spends a small fraction.
    func testConstrainedHouseholdsSpendTheWholeTransfer() throws {
        let (_, _, base) = try analysed("two-country.toml")
        let mpc = try MarginalPropensities.compute(base)
        let s = base.stateCount
        var constrained = 0
        for k in 0..<s {
            // Constrained both before (a′ = a₁ for every variety) and, by the step, after.
            let stays = (0..<2).allSatisfy { base.assetPolicy[base.index(variety: $0, state: k)] == base.problem.assets[0] }
            guard stays else { continue }
            let spent = (0..<2).map { mpc.byVariety[base.index(variety: $0, state: k)] * base.problem.prices[$0] }
            if spent.allSatisfy({ abs($0 - 1) < 1e-6 }) { constrained += 1 }
        }
        XCTAssertGreaterThan(constrained, 0, "some states at the borrowing limit spend the transfer")
        let rich = (base.shockCount - 1) * base.assetCount + base.assetCount * 6 / 10
        XCTAssertGreaterThan(mpc.byState[rich], 0)
        XCTAssertLessThan(mpc.byState[rich], 0.3)
        XCTAssertGreaterThan(mpc.byState[0], mpc.byState[rich], "the poorest state's MPC exceeds a rich one's")
    }

    /// Exact quintiles hold a fifth of the population each, in increasing expenditure; a long simulated
    /// panel agrees with them within Monte-Carlo error (§6.4's ±0.1 pp on import shares).
    func testQuintilesAndSimulatedPanelAgree() throws {
        let (_, _, base) = try analysed("two-country.toml")
        let mpc = try MarginalPropensities.compute(base)
        let cs = CrossSection(base, mpc: mpc.byState)
        let q = cs.quintiles()
        XCTAssertEqual(q.count, 5)
        for g in q { XCTAssertEqual(g.share, 0.2, accuracy: 1e-12) }
        for b in 1..<5 { XCTAssertGreaterThan(q[b].expenditure, q[b - 1].expenditure) }
        // The mean over the quintiles is the population mean.
        var mean = 0.0, total = 0.0
        for k in cs.masses.indices { mean += cs.masses[k] * cs.importShare[k]; total += cs.masses[k] }
        XCTAssertEqual(q.map(\.importShare).reduce(0, +) / 5, mean / total, accuracy: 1e-12)
        let sim = SimulatedCrossSection(base, draws: 400_000, seed: 3281978)
        let sq = sim.quintiles(cs)
        for b in 0..<5 {
            XCTAssertEqual(sq[b].importShare, q[b].importShare, accuracy: 0.003, "quintile \(b + 1)")
            XCTAssertEqual(sq[b].mpc!, q[b].mpc!, accuracy: 0.03, "quintile \(b + 1)")
        }
        // Same seed, same path.
        XCTAssertEqual(SimulatedCrossSection(base, draws: 1000, seed: 7).states, SimulatedCrossSection(base, draws: 1000, seed: 7).states)
    }

    /// Income groups: the 50/50 split leaves the median income value out of both "poor" and "rich";
    /// shares add up with the median's mass.
    func testIncomeGroupsPartitionByQuantile() throws {
        let (_, _, base) = try analysed("two-country.toml")
        let cs = CrossSection(base)
        let q50 = cs.incomeQuantile(0.5)
        var below = 0.0, at = 0.0, total = 0.0
        for k in cs.masses.indices {
            total += cs.masses[k]
            if cs.income[k] < q50 { below += cs.masses[k] } else if cs.income[k] == q50 { at += cs.masses[k] }
        }
        XCTAssertLessThan(below / total, 0.5)
        XCTAssertGreaterThanOrEqual((below + at) / total, 0.5 - 1e-12)
        let g = cs.incomeGroups(low: 0.5, high: 0.5)
        XCTAssertEqual(g.poor.share, below / total, accuracy: 1e-12)
        XCTAssertEqual(g.poor.share + g.rich.share + at / total, 1, accuracy: 1e-12)
        XCTAssertLessThan(g.poor.importShare, g.rich.importShare, "richer households import more (psi = 0, gamma > 1)")
    }
}
