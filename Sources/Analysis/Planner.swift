import Foundation
import HATModel
import Solvers

/// The efficient (planner) allocation of HAT-SPEC §6.6: a static, stationary planner with Pareto weights
/// ψ_i = A_i who allocates each variety over countries and the taste-shock lottery. Given the own
/// consumptions c_jj, the multiplier of good j is χ_j = ψ_j u′(c_jj); country i consumes
/// c_ij = (u′)⁻¹(χ_j d_ij / ψ_i) of j with probability π_ij ∝ exp((u(c_ij) − u′(c_ij) c_ij)/σ_i), and good j's
/// resource constraint Y_j = A_j L_j E[z] = Σ_i L_i c_ij π_ij d_ij pins down c_jj (solved in logs).
/// The efficient trade elasticity of pair (i, j) is −u′(c_ij) c_ij / σ_i (Proposition 4).
///
/// These are the first-order conditions of the planner's period welfare
///     W = Σ_i ψ_i L_i Σ_j π_ij (u(c_ij) − σ_i log π_ij)
/// under the resource constraints (χ_j their multipliers). By the envelope theorem a trade cost enters W only
/// through good j's constraint, so dW/d log d_ij = −χ_j L_i π_ij c_ij d_ij = ψ_i σ_i θ_ij π_ij L_i: Proposition 4's
/// welfare gain (per period; divided by 1 − β for the discounted stationary welfare), with θ_ij the efficient
/// elasticity and the planner's weights and country scaling written out.
public struct EfficientAllocation: Sendable {
    public var names: [String]
    /// c_ij, row-major (row = consumer i).
    public var consumption: [Double]
    /// π_ij, row-major.
    public var choiceProbabilities: [Double]
    /// Expenditure shares M_ij / Σ_j M_ij with M_ij = χ_j d_ij c_ij π_ij L_i, row-major.
    public var tradeShares: [Double]
    /// −u′(c_ij) c_ij / σ_i, row-major.
    public var elasticities: [Double]
    /// χ_j.
    public var multipliers: [Double]
    /// Y_j − Σ_i L_i c_ij π_ij d_ij at the solution.
    public var residuals: [Double]
    /// The planner's period welfare W at the solution (above).
    public var welfare: Double
    /// dW/d log d_ij = ψ_i σ_i θ_ij π_ij L_i per period, row-major (negative: a higher cost lowers welfare).
    public var welfareDerivatives: [Double]
    public var reason: ConvergenceReason
    public var iterations: Int
    public var converged: Bool { reason.converged }

    /// Solve the planner's M resource constraints for log c_ii from log c_ii = 0.65 log A_i (the author's start).
    public static func solve(world: World, model: ModelParameters, tolerance: Double = 1e-10,
                             maxIterations: Int = 200) throws -> EfficientAllocation {
        let m = world.count
        let gamma = model.gamma, logUtility = model.isLogUtility
        let weights = world.tfp
        let sigma = (0..<m).map { CountryScaling(tfp: world.tfp[$0], model: model).sigma }
        func marginal(_ c: Double) -> Double { logUtility ? 1 / c : Foundation.pow(c, -gamma) }
        func inverseMarginal(_ u: Double) -> Double { logUtility ? 1 / u : Foundation.pow(u, -1 / gamma) }
        func utility(_ c: Double) -> Double { logUtility ? Foundation.log(c) : Foundation.pow(c, 1 - gamma) / (1 - gamma) }
        /// u(c) − u′(c) c.
        func surplus(_ c: Double) -> Double { logUtility ? Foundation.log(c) - 1 : Foundation.pow(c, 1 - gamma) * gamma / (1 - gamma) }

        func allocation(_ y: [Double]) -> (c: [Double], pi: [Double], chi: [Double], residual: [Double]) {
            let chi = (0..<m).map { weights[$0] * marginal(exp(y[$0])) }
            var c = [Double](repeating: 0, count: m * m), pi = c
            for i in 0..<m {
                for j in 0..<m { c[i * m + j] = inverseMarginal(chi[j] * world.tradeCost(importer: i, exporter: j) / weights[i]) }
                // Max-shifted softmax (the author's code has no shift; the value is the same). The scores are
                // divided by σ_i first, as the author's code does, so the softmax runs at scale 1.
                let x = (0..<m).map { surplus(c[i * m + $0]) / sigma[i] }
                let row = TasteShocks.probabilities(varieties: m, sigma: 1) { x[$0] }
                for j in 0..<m { pi[i * m + j] = row[j] }
            }
            let residual = (0..<m).map { j -> Double in
                var used = 0.0
                for i in 0..<m { used += world.labor[i] * c[i * m + j] * pi[i * m + j] * world.tradeCost(importer: i, exporter: j) }
                return world.tfp[j] * world.labor[j] - used
            }
            return (c, pi, chi, residual)
        }

        let finder = HybridRootFinder(tolerance: tolerance, maxIterations: maxIterations)
        let r = try finder.solve(from: world.tfp.map { 0.65 * Foundation.log($0) }) { allocation($0).residual }
        let (c, pi, chi, residual) = allocation(r.x)
        var shares = [Double](repeating: 0, count: m * m), elasticities = shares, derivatives = shares
        var welfare = 0.0
        for i in 0..<m {
            var total = 0.0, own = 0.0
            for j in 0..<m {
                let k = i * m + j
                shares[k] = chi[j] * world.tradeCost(importer: i, exporter: j) * c[k] * pi[k] * world.labor[i]
                total += shares[k]
                elasticities[k] = -marginal(c[k]) * c[k] / sigma[i]
                derivatives[k] = weights[i] * sigma[i] * elasticities[k] * pi[k] * world.labor[i]
                if pi[k] > 0 { own += pi[k] * (utility(c[k]) - sigma[i] * Foundation.log(pi[k])) }
            }
            for j in 0..<m { shares[i * m + j] /= total }
            welfare += weights[i] * world.labor[i] * own
        }
        return EfficientAllocation(names: world.names, consumption: c, choiceProbabilities: pi, tradeShares: shares,
                                   elasticities: elasticities, multipliers: chi, residuals: residual,
                                   welfare: welfare, welfareDerivatives: derivatives,
                                   reason: r.reason, iterations: r.iterations)
    }
}
