import Foundation

/// The distribution G_i of a country's entrants' productivity φ (FIRMS-SPEC §1.2–1.3). Everything the
/// equilibrium needs is a tail quantity above a cutoff x: the share of entrants that reach it, 1 − G(x), and
/// the partial moment ∫_x^∞ φ^p dG. All three families have them in closed form, so the general-G path is
/// exact (no quadrature) and the Pareto case is a check of the general one, not a separate code path.
public enum ProductivityDistribution: Sendable, Equatable {
    /// G(φ) = 1 − (b/φ)^k on [b, ∞).
    case pareto(shape: Double, lowerBound: Double)
    /// Pareto on [b, H], renormalised (Helpman–Melitz–Rubinstein): cutoffs above H give genuine zeros.
    case truncatedPareto(shape: Double, lowerBound: Double, upperBound: Double)
    /// ln φ ~ N(ln b, s²): b is the median.
    case lognormal(median: Double, sigma: Double)

    /// 1 − G(x): the share of entrants with φ ≥ x.
    public func survival(_ x: Double) -> Double {
        switch self {
        case let .pareto(k, b):
            return x <= b ? 1 : pow(b / x, k)
        case let .truncatedPareto(k, b, h):
            if x <= b { return 1 }
            if x >= h { return 0 }
            let top = pow(b / h, k)
            return (pow(b / x, k) - top) / (1 - top)
        case let .lognormal(median, s):
            guard x > 0 else { return 1 }
            return 0.5 * erfc((log(x) - log(median)) / (s * 2.0.squareRoot()))
        }
    }

    /// ∫_x^∞ φ^p dG(φ), for the p = σ − 1 of the equilibrium (finite for Pareto only when p < k).
    public func partialMoment(_ x: Double, power p: Double) -> Double {
        switch self {
        case let .pareto(k, b):
            let lo = max(x, b)
            return k * pow(b, k) * pow(lo, p - k) / (k - p)
        case let .truncatedPareto(k, b, h):
            let lo = max(x, b)
            if lo >= h { return 0 }
            let scale = k * pow(b, k) / (1 - pow(b / h, k))
            if abs(p - k) < 1e-12 * k { return scale * log(h / lo) }
            return scale * (pow(h, p - k) - pow(lo, p - k)) / (p - k)
        case let .lognormal(median, s):
            let mu = log(median)
            let z = x > 0 ? (log(x) - mu) / s : -Double.infinity
            return exp(p * mu + 0.5 * p * p * s * s) * 0.5 * erfc((z - p * s) / 2.0.squareRoot())
        }
    }

    /// The density g(x) (for the extensive margin: a cutoff's elasticity moves the entrants at it).
    public func density(_ x: Double) -> Double {
        switch self {
        case let .pareto(k, b):
            return x < b ? 0 : k * pow(b, k) / pow(x, k + 1)
        case let .truncatedPareto(k, b, h):
            return x < b || x > h ? 0 : k * pow(b, k) / pow(x, k + 1) / (1 - pow(b / h, k))
        case let .lognormal(median, s):
            guard x > 0 else { return 0 }
            let z = (log(x) - log(median)) / s
            return exp(-0.5 * z * z) / (x * s * (2 * Double.pi).squareRoot())
        }
    }

    /// The φ with G(φ) = u, u in [0, 1) (inverse CDF, for drawing entrants).
    public func quantile(_ u: Double) -> Double {
        switch self {
        case let .pareto(k, b):
            return b * pow(1 - u, -1 / k)
        case let .truncatedPareto(k, b, h):
            let top = pow(b / h, k)
            return b * pow(1 - u * (1 - top), -1 / k)
        case let .lognormal(median, s):
            return median * exp(s * ProductivityDistribution.inverseNormal(u))
        }
    }

    /// The smallest productivity with positive density (b, or 0 for the lognormal).
    public var lowerSupport: Double {
        switch self {
        case let .pareto(_, b), let .truncatedPareto(_, b, _): return b
        case .lognormal: return 0
        }
    }

    /// The Pareto shape k, where there is one.
    public var paretoShape: Double? {
        if case let .pareto(k, _) = self { return k }
        return nil
    }

    /// Φ⁻¹(u) by Newton on erfc from Acklam-free bisection-safe start (accurate to rounding).
    static func inverseNormal(_ u: Double) -> Double {
        if u <= 0 { return -.infinity }
        if u >= 1 { return .infinity }
        // Bracket [−40, 40] and Newton steps safeguarded by bisection: Φ(z) = erfc(−z/√2)/2.
        var lo = -40.0, hi = 40.0, z = 0.0
        for _ in 0..<100 {
            let f = 0.5 * erfc(-z / 2.0.squareRoot()) - u
            if f > 0 { hi = z } else { lo = z }
            let d = exp(-0.5 * z * z) / (2 * Double.pi).squareRoot()
            var next = d > 0 ? z - f / d : 0.5 * (lo + hi)
            if !(next > lo && next < hi) { next = 0.5 * (lo + hi) }
            if abs(next - z) <= 1e-15 * max(1, abs(z)) { return next }
            z = next
        }
        return z
    }
}
