import Foundation

/// Which prices clear which markets (HAT-SPEC §4.3). Wages: the solver sees M − 1 raw wages ŵ_1..ŵ_{M−1}
/// (logs), ŵ_M = 1, and w = ŵ / mean(ŵ). The goods market of country 1 is dropped (Walras).
public enum Closure: String, CaseIterable, Sendable {
    /// One R clears the world bond market; β fixed. Unknowns log(ŵ_1..ŵ_{M−1}, R).
    case worldRate = "world-rate"
    /// R fixed at the configured rate; β clears the world bond market. Unknowns log(ŵ_1..ŵ_{M−1}, β).
    case fixedRate = "fixed-rate"
    /// Financial autarky: R_i clears country i's bond market. Unknowns log(ŵ_1..ŵ_{M−1}, R_1..R_M).
    case autarky = "autarky"

    public func unknownCount(countries m: Int) -> Int {
        switch self {
        case .worldRate, .fixedRate: return m
        case .autarky: return 2 * m - 1
        }
    }

    /// Names of the unknowns, for logs and outputs.
    public func unknownNames(countries names: [String]) -> [String] {
        let wages = names.dropLast().map { "log_wage_\($0)" }
        switch self {
        case .worldRate: return wages + ["log_R"]
        case .fixedRate: return wages + ["log_beta"]
        case .autarky: return wages + names.map { "log_R_\($0)" }
        }
    }

    /// Names of the residuals.
    public func residualNames(countries names: [String]) -> [String] {
        let goods = names.dropFirst().map { "goods_\($0)" }
        switch self {
        case .worldRate, .fixedRate: return ["bonds_world"] + goods
        case .autarky: return names.map { "bonds_\($0)" } + goods
        }
    }

    /// The unknown vector for a starting point: wages (any scale; only ratios to w_M matter), rate, β.
    public func unknowns(wages: [Double], rates: [Double], beta: Double) -> [Double] {
        let m = wages.count
        let w = (0..<(m - 1)).map { log(wages[$0] / wages[m - 1]) }
        switch self {
        case .worldRate: return w + [log(rates[0])]
        case .fixedRate: return w + [log(beta)]
        case .autarky: return w + rates.map { log($0) }
        }
    }

    /// Prices from the unknown vector; `fixedRate` is R in the fixed-rate closure, `beta` the fixed β otherwise.
    public func prices(from x: [Double], countries m: Int, fixedRate: Double, beta: Double) -> Prices {
        var raw = (0..<(m - 1)).map { exp(x[$0]) }
        raw.append(1)
        var total = 0.0
        for w in raw { total += w }
        let mean = total / Double(m)
        let wages = raw.map { $0 / mean }
        switch self {
        case .worldRate:
            return Prices(wages: wages, rates: [Double](repeating: exp(x[m - 1]), count: m), beta: beta)
        case .fixedRate:
            return Prices(wages: wages, rates: [Double](repeating: fixedRate, count: m), beta: exp(x[m - 1]))
        case .autarky:
            return Prices(wages: wages, rates: (0..<m).map { exp(x[m - 1 + $0]) }, beta: beta)
        }
    }

    /// The bond-market block: each pair is an unknown (log R, log β or log R_i) and the bond residual that
    /// rises with it when the wages are held fixed (more patient or better-paid savers demand more bonds).
    /// Held at fixed wages, these residuals depend only on their own unknown, so each can be bracketed.
    public func bondBlock(countries m: Int) -> [(unknown: Int, residual: Int)] {
        switch self {
        case .worldRate, .fixedRate: return [(m - 1, 0)]
        case .autarky: return (0..<m).map { (m - 1 + $0, $0) }
        }
    }

    /// Open bounds of each bond-block unknown: log β < 0 (β < 1); log R unbounded.
    public var bondUnknownBounds: (lower: Double, upper: Double) {
        self == .fixedRate ? (-.infinity, 0) : (-.infinity, .infinity)
    }

    /// What the bond-block unknowns are, for logs ("R", "beta", "R_i").
    public var bondUnknownName: String {
        switch self {
        case .worldRate: return "R"
        case .fixedRate: return "beta"
        case .autarky: return "each R_i"
        }
    }

    /// Market-clearing residuals at an evaluated world (sums in country order). A country that could not
    /// be evaluated makes its own bond residual (autarky) or the world's bond residual NaN, and every goods
    /// residual NaN.
    public func residuals(_ outcome: WorldOutcome, world: World) -> [Double] {
        let goods = Array(outcome.goodsMarketResiduals(world: world).dropFirst())
        switch self {
        case .worldRate, .fixedRate:
            var bonds = 0.0
            for b in outcome.bondDemand { bonds += b }
            return [bonds] + goods
        case .autarky:
            return outcome.bondDemand + goods
        }
    }
}
