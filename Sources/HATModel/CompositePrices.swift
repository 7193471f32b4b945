// The fixed point of buyer prices and spending inside one importer, for supply sides whose prices fall with
// the spending on them (SupplySide.spendingElasticity > 0).
import Foundation

/// Newton steps on importer i's fixed point y = log X_i·(p(y)), where X_i· is its households' spending on
/// every source and log p_ij = g_ij − θ y_j is the supply side's price at that spending.
///
/// The step uses the logit structure of the households' choice for its Jacobian: with log utility and no
/// home-quality spread, ∂ log X_ij / ∂ log p_ik = −(δ_jk − π_ik)/σ_i exactly (HAT-SPEC §6.8), so the
/// Jacobian of F(y) = log X(p(y)) − y is −[(1 − c) I + c 1 πᵀ] with c = θ/σ_i, and Sherman–Morrison gives
/// the step Δy = (F − c (π·F) 1) / (1 − c). Elsewhere it is a close approximation and the iteration
/// converges linearly. It needs c < 1 (σ_i > θ): otherwise the scale economy outruns the households' taste
/// for variety and the fixed point is unstable (checked when a configuration is read).
public enum CompositePrices {
    /// The step Δy from the residual F = log X_new − y and the spending shares π of X_new.
    public static func newtonStep(residual f: [Double], shares: [Double], c: Double) -> [Double] {
        var weighted = 0.0
        for j in 0..<f.count { weighted += shares[j] * f[j] }
        return f.map { ($0 - c * weighted) / (1 - c) }
    }

    /// Spending shares X_j / Σ X.
    public static func shares(_ x: [Double]) -> [Double] {
        var total = 0.0
        for v in x { total += v }
        return x.map { $0 / total }
    }

    /// A start for importer i's fixed point that needs no household solve: its spending is its factor
    /// income w_i L_i E[z], spread over the sources by the logit shares of a household with no home bias,
    /// p_ij^(−1/σ_i) / Σ_k p_ik^(−1/σ_i), solved to roundoff with the steps above (exact for this logit). A
    /// function of the wages alone, so an evaluation that starts here does not depend on what came before.
    public static func startingSpending(world: World, importer i: Int, wages: [Double], sigma: Double,
                                        meanEfficiency: Double) -> [Double] {
        let m = world.count, theta = world.supply.spendingElasticity
        let total = wages[i] * world.labor[i] * meanEfficiency
        var y = [Double](repeating: log(total / Double(m)), count: m)
        for _ in 0..<200 {
            let p = world.supply.buyerPrices(world: world, importer: i, wages: wages, spending: y.map { exp($0) })
            let logits = p.map { -log($0) / sigma }
            let top = logits.max() ?? 0
            let weights = logits.map { exp($0 - top) }
            let shares = CompositePrices.shares(weights)
            let f = (0..<m).map { log(total * shares[$0]) - y[$0] }
            if f.allSatisfy({ abs($0) <= 1e-14 }) || !f.allSatisfy({ $0.isFinite }) { break }
            let step = newtonStep(residual: f, shares: shares, c: theta / sigma)
            for j in 0..<m { y[j] += step[j] }
        }
        return y.map { exp($0) }
    }
}
