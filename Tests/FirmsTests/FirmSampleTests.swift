import Firms
import Foundation
import XCTest

/// Simulated firm-level data: the aggregates it implies converge to the model's at the 1/√N rate, the draws
/// do not depend on how the entrants are split, and each row is what the model says for its firm.
final class FirmSampleTests: XCTestCase {
    func solved() throws -> MelitzSolution { try MelitzEquilibrium(world: MelitzWorldTests.appendix()).solve() }

    /// Simulated sales and seller counts by pair, and exporter shares by origin.
    func aggregates(_ sample: FirmSample) -> (sales: [Double], sellers: [Double], exporters: [Double]) {
        let n = sample.solution.count
        var sales = [Double](repeating: 0, count: n * n), sellers = sales
        var active = [Double](repeating: 0, count: n), exporting = active
        for i in 0..<n {
            for j in 0..<sample.draws[i] {
                var rows: [Double] = []
                let served = sample.rows(origin: i, entrant: j, into: &rows)
                if served > 0 { active[i] += 1 }
                var exports = false
                for r in 0..<served {
                    let dest = Int(rows[r * 9 + 2])
                    sales[dest * n + i] += rows[r * 9 + 4] * sample.weight[i]
                    sellers[dest * n + i] += sample.weight[i]
                    if dest != i { exports = true }
                }
                if exports { exporting[i] += 1 }
            }
        }
        return (sales, sellers, (0..<n).map { exporting[$0] / active[$0] })
    }

    /// RMS relative errors over 8 seeds and all pairs (origins for exporter shares), and the largest bias of
    /// the seeds' mean of sales.
    func errors(_ s: MelitzSolution, firms: Int) -> (sales: Double, sellers: Double, exporters: Double, bias: Double) {
        let n = s.count
        let model = (0..<n).flatMap { dest in (0..<n).map { s.sales[dest][$0] } }
        let modelSellers = (0..<n).flatMap { dest in (0..<n).map { s.sellers[dest][$0] } }
        var e = 0.0, f = 0.0, g = 0.0, mean = [Double](repeating: 0, count: n * n)
        let seeds: [UInt64] = Array(1...8)
        // Pairs with at least 50 expected sellers among 4000 draws (a pair with a handful is not yet in the
        // asymptotic regime at the smaller N).
        let probe = FirmSample(solution: s, firms: 4_000, seed: 0)
        let pairs = (0..<(n * n)).filter { k in
            Double(probe.draws[k % n]) * s.world.distributions[k % n].survival(s.cutoffs[k / n][k % n]) >= 50
        }
        precondition(pairs.count >= n)
        for seed in seeds {
            let a = aggregates(FirmSample(solution: s, firms: firms, seed: seed))
            for k in pairs {
                e += pow(a.sales[k] / model[k] - 1, 2); f += pow(a.sellers[k] / modelSellers[k] - 1, 2)
                mean[k] += a.sales[k] / model[k] / Double(seeds.count)
            }
            for i in 0..<n { g += pow(a.exporters[i] / s.exporterShares[i] - 1, 2) }
        }
        let cells = Double(seeds.count * pairs.count)
        return ((e / cells).squareRoot(), (f / cells).squareRoot(), (g / Double(seeds.count * n)).squareRoot(),
                pairs.map { abs(mean[$0] - 1) }.max()!)
    }

    /// 16 times the draws make the errors 4 times smaller (±40 %, the 8 seeds' own sampling error). Seller
    /// counts and exporter shares are counts, so this holds on any world. Sales need a finite variance: firm
    /// sales are Pareto with shape κ = k/(σ−1), whose variance is infinite for κ ≤ 2 (the Appendix world has
    /// κ = 5/3, where the error falls only as N^(−(1−1/κ)) = N^(−0.4)), so they are checked on a world with
    /// κ = 3.5.
    func testAggregatesConvergeAtTheRootNRate() throws {
        let appendix = try solved()
        let small = errors(appendix, firms: 4_000), large = errors(appendix, firms: 64_000)
        for (a, b, what) in [(small.sellers, large.sellers, "sellers"), (small.exporters, large.exporters, "exporter shares")] {
            XCTAssertGreaterThan(a / b, 4 / 1.4, what)
            XCTAssertLessThan(a / b, 4 * 1.4, what)
        }
        XCTAssertLessThan(large.sellers, 0.05)
        var thin = MelitzWorldTests.appendix()
        thin.sigma = 3
        thin.distributions = [0.25, 0.30, 0.35].map { .pareto(shape: 7, lowerBound: $0) }
        thin.entryCosts = thin.entryCosts.map { 0.1 * $0 }
        let s = try MelitzEquilibrium(world: thin).solve()
        try s.checkConditions(requireInterior: true)
        let a = errors(s, firms: 4_000), b = errors(s, firms: 64_000)
        XCTAssertGreaterThan(a.sales / b.sales, 4 / 1.4)
        XCTAssertLessThan(a.sales / b.sales, 4 * 1.4)
        XCTAssertLessThan(b.sales, 0.05)
        XCTAssertLessThan(b.bias, 4 * b.sales / 8.0.squareRoot(), "unbiased: the seeds' mean is within sampling error")
    }

    /// Rows are the model's: a firm sells where φ ≥ φ*_ni, its sales are σ a_ni φ^(σ−1) (so the marginal
    /// seller's variable profit pays exactly w_i f_ni), and the counter-based draws are a pure function of
    /// (seed, origin, entrant).
    func testRowsFollowTheModelAndDrawsDoNotDependOnOrder() throws {
        let s = try solved()
        let sample = FirmSample(solution: s, firms: 3000, seed: 42)
        for i in 0..<3 {
            for j in stride(from: 0, to: sample.draws[i], by: 97) {
                var rows: [Double] = []
                let served = sample.rows(origin: i, entrant: j, into: &rows)
                XCTAssertEqual(served, sample.rowCount(origin: i, entrant: j))
                let phi = sample.productivity(origin: i, entrant: j)
                XCTAssertEqual(served, (0..<3).filter { phi >= s.cutoffs[$0][i] }.count)
                for r in 0..<served {
                    let dest = Int(rows[r * 9 + 2])
                    XCTAssertEqual(rows[r * 9 + 3], phi)
                    let atCutoff = rows[r * 9 + 4] * pow(s.cutoffs[dest][i] / phi, 3) / 4
                    XCTAssertEqual(atCutoff, s.wages[i] * s.world.fixedCosts[dest][i], accuracy: 1e-12 * atCutoff)
                }
            }
        }
        // The same entrant, asked in another order and from another sample object, has the same draws.
        let again = FirmSample(solution: s, firms: 3000, seed: 42)
        XCTAssertEqual(again.productivity(origin: 2, entrant: 1234), sample.productivity(origin: 2, entrant: 1234))
        XCTAssertNotEqual(FirmSample(solution: s, firms: 3000, seed: 43).productivity(origin: 2, entrant: 1234),
                          sample.productivity(origin: 2, entrant: 1234))
        // The predictors: noise has mean 0 and variance 1; the productivity signal is ln φ plus noise of sd 0.5.
        var noise: [Double] = [], residual: [Double] = []
        for j in 0..<sample.draws[0] {
            var rows: [Double] = []
            if sample.rows(origin: 0, entrant: j, into: &rows) > 0 {
                noise.append(rows[7]); residual.append(rows[5] - log(rows[3]))
            }
        }
        func moments(_ x: [Double]) -> (Double, Double) {
            let m = x.reduce(0, +) / Double(x.count)
            return (m, x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count))
        }
        let (m1, v1) = moments(noise), (m2, v2) = moments(residual)
        let se = 4 / Double(noise.count).squareRoot()
        XCTAssertEqual(m1, 0, accuracy: se); XCTAssertEqual(v1, 1, accuracy: 3 * se)
        XCTAssertEqual(m2, 0, accuracy: 0.5 * se); XCTAssertEqual(v2, 0.25, accuracy: se)
    }
}
