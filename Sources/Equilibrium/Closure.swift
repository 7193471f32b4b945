import Foundation
import HATModel

/// The kind of market closure (HAT-SPEC §4.3), by its configuration name: which prices clear which markets.
/// Wages: the solver sees M − 1 raw wages ŵ_1..ŵ_{M−1} (logs), ŵ_M = 1, and w = ŵ / mean(ŵ). The goods
/// market of country 1 is dropped (Walras). The parameters a closure holds fixed live in `MarketClosure`.
public enum Closure: String, CaseIterable, Sendable {
    /// One R clears the world bond market; β fixed. Unknowns log(ŵ_1..ŵ_{M−1}, R).
    case worldRate = "world-rate"
    /// R fixed at the configured rate; β clears the world bond market. Unknowns log(ŵ_1..ŵ_{M−1}, β).
    case fixedRate = "fixed-rate"
    /// Financial autarky: R_i clears country i's bond market. Unknowns log(ŵ_1..ŵ_{M−1}, R_1..R_M).
    case autarky = "autarky"
    /// World-rate with tariff revenue rebated lump sum (HAT-SPEC §4.3 (d)): the households of a country i
    /// that levies tariffs receive transfers of mean τ_i per capita (the same τ_i for all of them under the
    /// default per-capita `RebateScheme`), and τ_i balances the government budget
    /// T_i = Σ_j t_ij/(1+t_ij) M_ij = L_i τ_i. Unknowns log(ŵ_1..ŵ_{M−1}, R) and τ_i (levels) of the rebating
    /// countries (`MarketClosure.worldRateRebate(beta:rebating:scheme:)`); without tariffs, or with the
    /// `discard` scheme, it is world-rate. Which countries rebate depends on the world, so the kind-level
    /// counts, names and residuals below are those of world-rate; `MarketClosure`'s add the transfers.
    case worldRateRebate = "world-rate-rebate"

    /// What this closure solves for beyond the wages: the one table every count, name, block and residual
    /// below is read from.
    public var declaration: ClosureDeclaration {
        switch self {
        case .worldRate, .worldRateRebate: return ClosureDeclaration(bondUnknown: .rate, bondMarkets: .world)
        case .fixedRate: return ClosureDeclaration(bondUnknown: .beta, bondMarkets: .world)
        case .autarky: return ClosureDeclaration(bondUnknown: .rate, bondMarkets: .perCountry)
        }
    }

    public func unknownCount(countries m: Int) -> Int { m - 1 + declaration.bondCount(countries: m) }

    /// Names of the unknowns, for logs and outputs.
    public func unknownNames(countries names: [String]) -> [String] {
        let wages = names.dropLast().map { "log_wage_\($0)" }
        let d = declaration
        switch d.bondMarkets {
        case .world: return wages + ["log_\(d.bondUnknown.rawValue)"]
        case .perCountry: return wages + names.map { "log_\(d.bondUnknown.rawValue)_\($0)" }
        }
    }

    /// Names of the residuals.
    public func residualNames(countries names: [String]) -> [String] {
        let goods = names.dropFirst().map { "goods_\($0)" }
        switch declaration.bondMarkets {
        case .world: return ["bonds_world"] + goods
        case .perCountry: return names.map { "bonds_\($0)" } + goods
        }
    }

    /// The bond-market block: each pair is an unknown (log R, log β or log R_i) and the bond residual that
    /// rises with it when the wages are held fixed (more patient or better-paid savers demand more bonds).
    /// Held at fixed wages, these residuals depend only on their own unknown, so each can be bracketed.
    public func bondBlock(countries m: Int) -> [(unknown: Int, residual: Int)] {
        (0..<declaration.bondCount(countries: m)).map { (m - 1 + $0, $0) }
    }

    /// Open bounds of each bond-block unknown: log β < 0 (β < 1); log R unbounded.
    public var bondUnknownBounds: (lower: Double, upper: Double) {
        declaration.bondUnknown == .beta ? (-.infinity, 0) : (-.infinity, .infinity)
    }

    /// What the bond-block unknowns are, for logs ("R", "beta", "each R_i").
    public var bondUnknownName: String {
        let d = declaration
        return d.bondMarkets == .perCountry ? "each \(d.bondUnknown.rawValue)_i" : d.bondUnknown.rawValue
    }

    /// Market-clearing residuals at an evaluated world (sums in country order). A country that could not
    /// be evaluated makes its own bond residual (autarky) or the world's bond residual NaN, and every goods
    /// residual NaN.
    public func residuals(_ outcome: WorldOutcome, world: World) -> [Double] {
        let goods = Array(outcome.goodsMarketResiduals(world: world).dropFirst())
        switch declaration.bondMarkets {
        case .world:
            var bonds = 0.0
            for b in outcome.bondDemand { bonds += b }
            return [bonds] + goods
        case .perCountry:
            return outcome.bondDemand + goods
        }
    }
}

/// What a closure solves for after the M − 1 wages: its bond-market unknowns (one for the world or one per
/// country; R or β), in that order; a rebating closure adds the transfers after them. The residuals are
/// the bond markets in the same order, then the goods markets of countries 2..M, then any government
/// budgets.
public struct ClosureDeclaration: Sendable, Equatable {
    /// The price that clears a bond market: R (β held fixed) or β (R held fixed).
    public enum BondUnknown: String, Sendable { case rate = "R", beta = "beta" }
    /// One world bond market (financial globalisation) or one per country (financial autarky).
    public enum BondMarkets: Sendable { case world, perCountry }
    public var bondUnknown: BondUnknown
    public var bondMarkets: BondMarkets

    /// The number of bond markets, and of bond unknowns.
    public func bondCount(countries m: Int) -> Int { bondMarkets == .world ? 1 : m }
}

/// A market closure with the parameters it holds fixed: the one place that decides R and β. In world-rate
/// and autarky β is fixed and R (or each R_i) is an unknown; in fixed-rate R is fixed and β is the unknown.
public enum MarketClosure: Sendable, Equatable {
    /// One R clears the world bond market at the fixed β.
    case worldRate(beta: Double)
    /// R is fixed; β clears the world bond market.
    case fixedRate(rate: Double)
    /// Each R_i clears country i's bond market at the fixed β.
    case autarky(beta: Double)
    /// One R clears the world bond market at the fixed β; the tariff revenue of each country in `rebating`
    /// (those with a non-zero tariff) is rebated with mean τ_i per capita, spread over the income states as
    /// `scheme` says (per capita by default). Under `discard` nothing is rebated: no transfer unknowns.
    case worldRateRebate(beta: Double, rebating: [Int], scheme: RebateScheme = .perCapita)

    /// The closure of `kind` holding its parameter fixed: `rate` is used by fixed-rate, `beta` by the others.
    /// World-rate-rebate rebates in the countries of `world` that levy a tariff, with `scheme` (the other
    /// kinds ignore it).
    public init(_ kind: Closure, rate: Double, beta: Double, world: World? = nil, scheme: RebateScheme = .perCapita) {
        switch kind {
        case .worldRate: self = .worldRate(beta: beta)
        case .fixedRate: self = .fixedRate(rate: rate)
        case .autarky: self = .autarky(beta: beta)
        case .worldRateRebate:
            self = .worldRateRebate(beta: beta, rebating: world?.rebatingCountries ?? [], scheme: scheme)
        }
    }

    /// The countries whose tariff revenue is an unknown transfer (none under `discard`).
    public var rebating: [Int] {
        if case let .worldRateRebate(_, r, scheme) = self, scheme.pays { return r } else { return [] }
    }

    /// The rebate scheme of world-rate-rebate; nil for the closures that rebate nothing.
    public var rebateScheme: RebateScheme? {
        if case let .worldRateRebate(_, _, scheme) = self { return scheme } else { return nil }
    }

    public func unknownCount(countries m: Int) -> Int { kind.unknownCount(countries: m) + rebating.count }

    public func unknownNames(countries names: [String]) -> [String] {
        kind.unknownNames(countries: names) + rebating.map { "transfer_\(names[$0])" }
    }

    public func residualNames(countries names: [String]) -> [String] {
        kind.residualNames(countries: names) + rebating.map { "budget_\(names[$0])" }
    }

    /// Market-clearing residuals, then the government budgets T_i − L_i τ_i of the rebating countries.
    public func residuals(_ outcome: WorldOutcome, world: World) -> [Double] {
        let m = world.count
        return kind.residuals(outcome, world: world) + rebating.map { i -> Double in
            var revenue = 0.0
            for j in 0..<m {
                let t = world.tariff(importer: i, exporter: j)
                revenue += t / (1 + t) * outcome.countries[i].aggregates.imports[j]
            }
            return revenue - world.labor[i] * outcome.prices.transfers[i]
        }
    }

    public var kind: Closure {
        switch self {
        case .worldRate: return .worldRate
        case .fixedRate: return .fixedRate
        case .autarky: return .autarky
        case .worldRateRebate: return .worldRateRebate
        }
    }

    /// The fixed parameter by name ("beta" or "R"), for outputs.
    public var parameter: (name: String, value: Double) {
        (kind.declaration.bondUnknown == .rate ? "beta" : "R", fixedValue)
    }

    /// The parameter this closure holds fixed: β when R (or each R_i) clears the bond markets, R when β does.
    var fixedValue: Double {
        switch self {
        case let .worldRate(beta), let .autarky(beta), let .worldRateRebate(beta, _, _): return beta
        case let .fixedRate(rate): return rate
        }
    }

    /// The unknown vector at a starting point (wages at any scale: only ratios to w_M matter).
    public func unknowns(at start: EquilibriumStart, countries m: Int) -> [Double] {
        if let x = start.unknowns, x.count == unknownCount(countries: m) { return x }
        let wages = start.wages ?? [Double](repeating: 1, count: m)
        let w = (0..<(m - 1)).map { log(wages[$0] / wages[m - 1]) }
        let d = kind.declaration
        let guess = log(d.bondUnknown == .rate ? start.rate : start.beta)
        return w + [Double](repeating: guess, count: d.bondCount(countries: m))
            + [Double](repeating: 0, count: rebating.count)
    }

    /// Prices from the unknown vector, with this closure's fixed parameter.
    public func prices(from x: [Double], countries m: Int) -> Prices {
        var raw = (0..<(m - 1)).map { exp(x[$0]) }
        raw.append(1)
        var total = 0.0
        for w in raw { total += w }
        let mean = total / Double(m)
        let wages = raw.map { $0 / mean }
        let d = kind.declaration, bonds = d.bondCount(countries: m)
        var transfers = [Double](repeating: 0, count: m)
        for (k, i) in rebating.enumerated() { transfers[i] = x[m - 1 + bonds + k] }
        let rebate = rebateScheme ?? .perCapita
        switch d.bondUnknown {
        case .rate:
            let rates = d.bondMarkets == .world ? [Double](repeating: exp(x[m - 1]), count: m)
                : (0..<m).map { exp(x[m - 1 + $0]) }
            return Prices(wages: wages, rates: rates, beta: fixedValue, transfers: transfers, rebate: rebate)
        case .beta:
            return Prices(wages: wages, rates: [Double](repeating: fixedValue, count: m), beta: exp(x[m - 1]),
                          transfers: transfers, rebate: rebate)
        }
    }

    /// The prices at a starting point.
    public func prices(at start: EquilibriumStart, countries m: Int) -> Prices {
        prices(from: unknowns(at: start, countries: m), countries: m)
    }
}

/// Where the equilibrium search starts. Only guesses live here; what a closure holds fixed is in
/// `MarketClosure`. `rate` is the first guess of R (every R_i in autarky), unused by fixed-rate; `beta` the
/// first guess of β, used only by fixed-rate.
public struct EquilibriumStart: Sendable, Equatable {
    /// Initial wages (any positive scale); nil = all equal.
    public var wages: [Double]?
    public var rate: Double
    public var beta: Double
    /// The solver's unknowns themselves (e.g. from a checkpoint); when set they replace the guesses above.
    public var unknowns: [Double]?

    public init(wages: [Double]? = nil, rate: Double, beta: Double) {
        self.wages = wages; self.rate = rate; self.beta = beta
    }
}
