import Foundation

/// The taste shocks' aggregation over varieties (HAT-SPEC §1.2, §2.1 step 1), written once for the household
/// kernel, the ex-ante values of the analysis and the planner. For the scores x_j of one state's varieties
/// (ψ_j + v_j in the household, the planner's surplus over σ_i), with x̄ = max_j x_j:
/// - weights e_j = exp((x_j − x̄)/σ) and their sum Σ_j e_j (the max shift keeps exp from overflowing);
/// - choice probabilities π_j = e_j / Σ e;
/// - the inclusive value Φ = x̄ + σ log Σ_j e_j, which equals σ log Σ_j exp(x_j/σ).
///
/// The sums run over the varieties in order, from 0, on a `TasteShockLane`: one state (`Double`) or eight
/// (`Vec`); the lane's `inclusiveValue(top:sum:scale:)` turns what `weights` returns into Φ. Each lane
/// keeps the arithmetic its callers have always used, so that every output stays bitwise the same (see
/// the lanes).
public enum TasteShocks {
    /// x̄ and Σ_j e_j of the scores `score(j)` of `varieties` varieties, handing each weight e_j to `each`
    /// (e.g. to store it, or to accumulate e_j times something). `score` is called twice per variety.
    @_transparent
    public static func weights<L: TasteShockLane>(varieties n: Int, scale: TasteShockScale, score: (Int) -> L,
                                                  _ each: (Int, L) -> Void = { _, _ in }) -> (top: L, sum: L) {
        var top = L.lowest
        for j in 0..<n { top = L.larger(top, score(j)) }
        var sum = L.zero
        for j in 0..<n {
            let e = L.weight(score(j), top: top, scale: scale)
            sum = sum + e
            each(j, e)
        }
        return (top, sum)
    }

    /// Φ = σ log Σ_j exp(x_j/σ) of one state (max-shifted).
    @inlinable
    public static func inclusiveValue(varieties n: Int, sigma: Double, score: (Int) -> Double) -> Double {
        let scale = TasteShockScale(sigma: sigma)
        let (top, sum) = weights(varieties: n, scale: scale, score: score)
        return Double.inclusiveValue(top: top, sum: sum, scale: scale)
    }

    /// π_j = exp(x_j/σ) / Σ_j′ exp(x_j′/σ) of one state (max-shifted).
    @inlinable
    public static func probabilities(varieties n: Int, sigma: Double, score: (Int) -> Double) -> [Double] {
        var e = [Double](repeating: 0, count: n)
        let (_, sum) = weights(varieties: n, scale: TasteShockScale(sigma: sigma), score: score) { j, w in e[j] = w }
        for j in 0..<n { e[j] /= sum }
        return e
    }
}

/// σ and 1/σ, the latter computed once.
public struct TasteShockScale: Sendable {
    public let sigma: Double
    public let inverse: Double
    @inlinable public init(sigma: Double) { self.sigma = sigma; inverse = 1 / sigma }
}

/// What the taste-shock sums run on: the elementary steps of `TasteShocks` for one state or for eight.
public protocol TasteShockLane {
    /// −∞ (the start of the maximum).
    static var lowest: Self { get }
    static var zero: Self { get }
    /// The running maximum after `x`, decided as `Swift.max(top, x)` does: x when x ≥ top.
    static func larger(_ top: Self, _ x: Self) -> Self
    /// e = exp((x − top)/σ).
    static func weight(_ x: Self, top: Self, scale: TasteShockScale) -> Self
    /// top + σ log(sum).
    static func inclusiveValue(top: Self, sum: Self, scale: TasteShockScale) -> Self
    static func + (a: Self, b: Self) -> Self
}

/// One state with libm's exp and log and a division by σ: the arithmetic of the analysis's ex-ante values
/// and of the planner.
extension Double: TasteShockLane {
    @_transparent public static var lowest: Double { -.infinity }
    @_transparent public static var zero: Double { 0 }
    @_transparent
    public static func larger(_ top: Double, _ x: Double) -> Double { Swift.max(top, x) }
    @_transparent
    public static func weight(_ x: Double, top: Double, scale: TasteShockScale) -> Double {
        Foundation.exp((x - top) / scale.sigma)
    }
    @_transparent
    public static func inclusiveValue(top: Double, sum: Double, scale: TasteShockScale) -> Double {
        top + scale.sigma * Foundation.log(sum)
    }
}

/// Eight states with the kernel's `vexp` and `vlog` (a few ulps) and a multiplication by 1/σ: the
/// household kernel's arithmetic (its expectations, inclusive values and choice probabilities).
extension SIMD8: TasteShockLane where Scalar == Double {
    @_transparent public static var lowest: SIMD8<Double> { SIMD8(repeating: -.infinity) }
    @_transparent public static var zero: SIMD8<Double> { SIMD8(repeating: 0) }
    @_transparent
    public static func larger(_ top: SIMD8<Double>, _ x: SIMD8<Double>) -> SIMD8<Double> {
        var out = top
        out.replace(with: x, where: x .>= top)
        return out
    }
    @_transparent
    public static func weight(_ x: SIMD8<Double>, top: SIMD8<Double>, scale: TasteShockScale) -> SIMD8<Double> {
        vexp((x - top) * SIMD8(repeating: scale.inverse))
    }
    @_transparent
    public static func inclusiveValue(top: SIMD8<Double>, sum: SIMD8<Double>, scale: TasteShockScale) -> SIMD8<Double> {
        top + SIMD8(repeating: scale.sigma) * vlog(sum)
    }
}
