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
    /// income w_i L_i E[z], spread over the sources by the logit shares of a log-utility household,
    /// p_ij^(−1/σ_i) / Σ_k p_ik^(−1/σ_i), with the home variety's weight multiplied by the stationary mean
    /// of exp(ψ_i(z)/σ_i) (its quality shifter), solved to roundoff with the steps above. (The CRRA utility
    /// of spending the wage, in place of the log, overshoots as much the other way and can underflow.) A
    /// function of the wages alone, so an evaluation that starts here does not depend on what came before.
    public static func startingSpending(world: World, importer i: Int, wages: [Double], sigma: Double,
                                        income: IncomeProcess, homeQuality: [Double]) -> [Double] {
        let m = world.count, theta = world.supply.spendingElasticity
        let total = wages[i] * world.labor[i] * income.meanZ
        let top = homeQuality.max() ?? 0
        var weight = 0.0
        for (s, q) in homeQuality.enumerated() { weight += income.stationary[s] * exp((q - top) / sigma) }
        let homeBonus = log(weight) + top / sigma
        var y = [Double](repeating: log(total / Double(m)), count: m)
        for _ in 0..<200 {
            let p = world.supply.buyerPrices(world: world, importer: i, wages: wages, spending: y.map { exp($0) })
            var logits = p.map { -log($0) / sigma }
            logits[i] += homeBonus
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

    /// Anderson acceleration of the iteration y ← y + r(y) (r the Newton step above): the next point combines
    /// the last `memory` iterates so that the combined step is as small as possible in the least-squares
    /// sense. It turns the linear convergence left by an approximate Jacobian into a fast one. A combined
    /// step more than ten times the plain one is not trusted: the plain step is taken and the history reset.
    public struct Anderson: Sendable {
        public let memory: Int
        var points: [[Double]] = [], steps: [[Double]] = []

        public init(memory: Int) { self.memory = memory }

        public mutating func next(_ y: [Double], step r: [Double]) -> [Double] {
            points.append(y); steps.append(r)
            if points.count > memory + 1 { points.removeFirst(); steps.removeFirst() }
            let plain = zip(y, r).map { $0 + $1 }
            let n = points.count - 1, d = y.count
            guard n > 0 else { return plain }
            let dy = (0..<n).map { k in (0..<d).map { points[k + 1][$0] - points[k][$0] } }
            let dr = (0..<n).map { k in (0..<d).map { steps[k + 1][$0] - steps[k][$0] } }
            // Normal equations (ΔRᵀΔR + εI) γ = ΔRᵀ r, ε a relative ridge against nearly parallel columns.
            var a = [Double](repeating: 0, count: n * n), rhs = [Double](repeating: 0, count: n)
            var trace = 0.0
            for p in 0..<n {
                for q in 0..<n { var v = 0.0; for j in 0..<d { v += dr[p][j] * dr[q][j] }; a[p * n + q] = v }
                var v = 0.0; for j in 0..<d { v += dr[p][j] * r[j] }; rhs[p] = v
                trace += a[p * n + p]
            }
            guard trace > 0, trace.isFinite else { return plain }
            for p in 0..<n { a[p * n + p] += 1e-10 * trace }
            guard let gamma = Self.solve(a, rhs, n) else { reset(); return plain }
            var next = plain
            for k in 0..<n { for j in 0..<d { next[j] -= gamma[k] * (dy[k][j] + dr[k][j]) } }
            var combined = 0.0, single = 0.0
            for j in 0..<d { combined = max(combined, abs(next[j] - y[j])); single = max(single, abs(r[j])) }
            guard combined.isFinite, combined <= 10 * single else { reset(); return plain }
            return next
        }

        mutating func reset() {
            if let y = points.last, let r = steps.last { points = [y]; steps = [r] }
        }

        /// Gaussian elimination with partial pivoting on a small dense system; nil if singular.
        static func solve(_ a0: [Double], _ b0: [Double], _ n: Int) -> [Double]? {
            var a = a0, b = b0
            for col in 0..<n {
                var pivot = col
                for row in col..<n where abs(a[row * n + col]) > abs(a[pivot * n + col]) { pivot = row }
                guard a[pivot * n + col] != 0 else { return nil }
                if pivot != col {
                    for k in 0..<n { a.swapAt(col * n + k, pivot * n + k) }
                    b.swapAt(col, pivot)
                }
                for row in (col + 1)..<n {
                    let factor = a[row * n + col] / a[col * n + col]
                    for k in col..<n { a[row * n + k] -= factor * a[col * n + k] }
                    b[row] -= factor * b[col]
                }
            }
            var x = [Double](repeating: 0, count: n)
            for row in stride(from: n - 1, through: 0, by: -1) {
                var v = b[row]
                for k in (row + 1)..<n { v -= a[row * n + k] * x[k] }
                x[row] = v / a[row * n + row]
            }
            return x.allSatisfy { $0.isFinite } ? x : nil
        }
    }
}
