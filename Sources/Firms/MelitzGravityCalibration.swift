import Foundation
import Gravity

/// Gravity as a guide for the Pareto Melitz world (FIRMS-SPEC §5): the firm world whose own gravity
/// regression returns the data's 46 moments, in one shot. Under Pareto the model's gravity is exactly
/// log-linear, ln(X_ni/X_nn) = F_i − F_n − k ln τ_ni + (1−κ) ln(f_ni/f_nn) with F_i = ln S_i − θ_w ln w_i and
/// S_i = L_i b_i^k / f_E,i, while the data's fitted values are S_i − S_n + g_ni with
/// g_ni = θm_n + dist_bin(n,i) + b·dummies_ni (HAT-SPEC §5.2). So:
/// 1. τ_ni = exp(−(g_ni − (1−κ) ln(f_X/f_D,n))/k) matches every bilateral term;
/// 2. the shares are the regression's fitted shares, λ_ni ∝ exp(S_i + g_ni) (λ_nn ∝ exp(S_n)), so the
///    wages solve w_i L_i = Σ_n λ_ni w_n L_n whatever the productivity levels;
/// 3. b_i^k = f_E,i exp(S_i) w_i^θ_w / L_i (times one constant, set so that the b_i have geometric mean 1)
///    makes F_i = S_i + const, which matches the exporter effects.
/// k is not identified by aggregate flows (only k ln d is): it is given (`firms.shape`), as are σ and the
/// fixed costs, whose split between τ and f aggregate data cannot tell apart. A pair whose τ would fall
/// below 1 is floored at 1, and then that pair's moment is no longer matched exactly (reported). Selection
/// into exporting is reported, not imposed (see `calibrate`).
public struct MelitzGravityCalibration: Sendable {
    public var world: MelitzWorld
    /// The data's moments, and the model's from its own regression at the calibrated world.
    public var dataMoments: GravityMoments
    public var modelMoments: GravityMoments
    /// Pairs (importer, exporter) whose τ was floored at 1.
    public var floored: [(importer: Int, exporter: Int)]
    /// Pairs (importer, exporter) whose export cutoff is below the exporter's domestic cutoff: selection into
    /// exporting fails there, and the world is not a Melitz equilibrium as it stands (see `calibrate`).
    public var selectionViolations: [(importer: Int, exporter: Int)]
    public var solution: MelitzSolution

    public var maxMomentGap: Double {
        zip(dataMoments.flattened, modelMoments.flattened).map { abs($0 - $1) }.max() ?? 0
    }

    /// `template` gives σ, k, entry costs, the fixed costs (one export fixed cost f_X, domestic ones f_D,n)
    /// and the entry mode; its countries, labour, trade costs and lower bounds are replaced from the data.
    public static func calibrate(data: EKData, sigma: Double, shape k: Double, entryCosts: [Double],
                                 exportFixedCost fx: Double, domesticFixedCosts fd: [Double]) throws -> MelitzGravityCalibration {
        let m = data.count
        guard entryCosts.count == m, fd.count == m else {
            throw FirmsError(key: "firms.entry_cost", problem: "a data world has \(m) countries: entry_cost and domestic_fixed_cost need \(m) entries each")
        }
        let fit = try gravityRegression(y: data.logTradeRatios, pairs: data.pairs, countries: m, countryNames: data.countries)
        let mo = fit.moments
        let kappa = k / (sigma - 1), thetaW = sigma * kappa - 1
        var g = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
        for p in data.pairs {
            var v = mo.thetaM[p.importer] + mo.distance[p.distanceBin]
            for q in 0..<4 { v += mo.dummies[q] * p.dummies[q] }
            g[p.importer][p.exporter] = v
        }
        var tau = [[Double]](repeating: [Double](repeating: 1, count: m), count: m)
        var floored: [(importer: Int, exporter: Int)] = []
        var fixed = [[Double]](repeating: [Double](repeating: fx, count: m), count: m)
        for n in 0..<m {
            fixed[n][n] = fd[n]
            for i in 0..<m where i != n {
                let t = exp(-(g[n][i] - (1 - kappa) * log(fx / fd[n])) / k)
                if t < 1 { floored.append((n, i)) }
                tau[n][i] = max(1, t)
            }
        }
        // Fitted shares and the wages they imply (power iteration on w_i L_i = Σ_n λ_ni w_n L_n).
        var lambda = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
        for n in 0..<m {
            let terms = (0..<m).map { i in exp(mo.S[i] + (i == n ? 0 : g[n][i])) }
            let total = terms.reduce(0, +)
            lambda[n] = terms.map { $0 / total }
        }
        let labour = data.labor
        var income = labour
        for _ in 0..<100_000 {
            var next = (0..<m).map { i in (0..<m).reduce(0.0) { $0 + lambda[$1][i] * income[$1] } }
            let scale = next.reduce(0, +) / income.reduce(0, +)
            next = next.map { $0 / scale }
            let change = zip(next, income).map { abs($0 / $1 - 1) }.max()!
            income = next
            if change < 1e-15 { break }
        }
        let w = (0..<m).map { income[$0] / labour[$0] }
        let logB = (0..<m).map { i in (log(entryCosts[i]) + mo.S[i] + thetaW * log(w[i]) - log(labour[i])) / k }
        let shift = logB.reduce(0, +) / Double(m)
        let world = MelitzWorld(names: data.countries, labour: labour, sigma: sigma,
                                distributions: logB.map { .pareto(shape: k, lowerBound: exp($0 - shift)) },
                                entryCosts: entryCosts, fixedCosts: fixed, tradeCosts: tau)
        // The wages the shares imply are the equilibrium's: start there (the solve checks it).
        func solve(_ world: MelitzWorld) throws -> MelitzSolution {
            var equilibrium = MelitzEquilibrium(world: world)
            equilibrium.startingWages = w
            let solution = try equilibrium.solve()
            guard solution.report.converged else {
                throw FirmsError(key: "", problem: "the calibrated firm world did not converge (residual \(solution.report.residual))")
            }
            return solution
        }
        let solution = try solve(world)
        // Selection into exporting is checked, not imposed: the data fix only the composite
        // τ f^(1/(σ−1) − 1/k), at which the cutoff ratio φ*_ni/φ*_ii moves as f_ni^(1/k) while τ must fall
        // as f rises, so a pair whose ratio is below 1 can be repaired only with τ < 1.
        var violations: [(importer: Int, exporter: Int)] = []
        for n in 0..<m { for i in 0..<m where i != n && solution.cutoffs[n][i] < solution.cutoffs[i][i] { violations.append((n, i)) } }

        let shares = solution.tradeShares.flatMap { $0 }
        let modelFit = try gravityRegression(y: logTradeRatios(tradeShares: shares, pairs: data.pairs, countries: m),
                                             pairs: data.pairs, countries: m, countryNames: data.countries)
        return MelitzGravityCalibration(world: world, dataMoments: mo, modelMoments: modelFit.moments, floored: floored,
                                        selectionViolations: violations, solution: solution)
    }
}
