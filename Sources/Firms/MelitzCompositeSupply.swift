// Melitz firms inside HAT's national composites (FIRMS-SPEC §2.6): the supply side of `households = "hat"`.
import Foundation
import HATModel

/// HAT's households choose among national composites (one per source, as under Armington); inside the
/// composite of source i in importer n, i's firms compete monopolistically on the importer's spending X_ni,
/// with Pareto productivity (shape k > σ − 1, lower bound b_i), market fixed costs f_ni and entry costs f_E,i
/// paid in i's labour.
///
/// Units. `wages` are the households' factor income per efficiency unit ω_i, the unknowns of every HAT
/// closure, and all producer revenue is paid to households: under free entry ω_i is the wage w_i; under a
/// fixed mass of firms (Chaney) profits are paid in proportion to labour income, so ω_i = w_i / s with s the
/// labour share of revenue (constant under Pareto: 1 − (σ−1)/(σk) with market fixed costs, (σ−1)/σ without).
/// Then country i's output is ω_i N_i and HAT's goods markets, bond markets and closures apply unchanged.
///
/// Productivity. `World.tfp` A_i stays the parameter of productivity (and of HAT's country scaling). It sets
/// the lower bound b_i such that a world without market fixed costs would have the composite price
/// P_ni = d_ni (1 + t_ni) ω_i / A_i, the plain HAT price (the nesting identity): b_i = A_i m s₀ / (M⁰_Ei K)^(1/(σ−1)),
/// with m = σ/(σ−1), K = k/(k−σ+1), s₀ and M⁰_Ei the labour share and entry mass without fixed costs. So a
/// calibration that moves A_i moves b_i, and the two worlds can be compared at the same A.
///
/// Composite prices. With every f_ni > 0 and interior cutoffs (φ*_ni ≥ b_i), FIRMS-SPEC §2.6 with tariffs
/// (X_ni is spending at buyer prices; firms receive X_ni / (1 + t_ni)):
///     P_ni^(−k) = M_Ei K b_i^k c_ni^(−k) (σ w_i f_ni (1 + t_ni))^(1−κ) X_ni^(κ−1),  c_ni = (1 + t_ni) m d_ni w_i,
/// κ = k/(σ−1), so log P_ni falls with log X_ni at the rate θ = (κ−1)/k = 1/(σ−1) − 1/k. With every f_ni = 0
/// all firms serve every market and P_ni = c_ni / Ã_i with Ã_i = (M_Ei K b_i^(σ−1))^(1/(σ−1)): no scale
/// economy (θ = 0). The entry mass is M_Ei = L_i/(σκ f_Ei) under free entry with fixed costs (L_i/(σ f_Ei)
/// without), or the given mass.
public struct MelitzCompositeSupply: SupplySide, Equatable {
    public var sigma: Double
    public var shape: Double
    /// f_ni, row-major (row = importer n, column = exporter i), in units of i's labour: all > 0, or all 0.
    public var fixedCosts: [Double]
    public var entry: FirmEntry
    /// f_E,i under free entry (unused with a fixed mass).
    public var entryCosts: [Double]

    public init(sigma: Double, shape: Double, fixedCosts: [Double], entry: FirmEntry, entryCosts: [Double]) {
        self.sigma = sigma; self.shape = shape; self.fixedCosts = fixedCosts; self.entry = entry; self.entryCosts = entryCosts
    }

    public var name: String { "melitz" }
    public var isLinearInLabour: Bool { false }
    /// Whether markets have fixed costs (then selection, and the scale economy θ > 0).
    public var hasMarketFixedCosts: Bool { fixedCosts.contains { $0 > 0 } }
    /// κ = k/(σ−1).
    public var kappa: Double { shape / (sigma - 1) }
    public var markup: Double { sigma / (sigma - 1) }
    /// K = k/(k−σ+1) = E[φ^(σ−1)] / b^(σ−1) under Pareto.
    var momentFactor: Double { shape / (shape - sigma + 1) }
    public var spendingElasticity: Double { hasMarketFixedCosts ? (kappa - 1) / shape : 0 }

    /// The labour share s of producer revenue (w = s ω): 1 under free entry.
    public var labourShare: Double {
        guard case .fixed = entry else { return 1 }
        return hasMarketFixedCosts ? 1 - (sigma - 1) / (sigma * shape) : (sigma - 1) / sigma
    }

    /// The entry mass M_Ei.
    public func entryMass(world: World, _ i: Int) -> Double {
        switch entry {
        case .free: return world.labor[i] / (sigma * (hasMarketFixedCosts ? kappa : 1) * entryCosts[i])
        case let .fixed(mass): return mass[i]
        }
    }

    /// The lower bounds b_i set by `world.tfp` (see the type's description).
    public func lowerBounds(world: World) -> [Double] {
        let share0: Double, mass0: (Int) -> Double
        switch entry {
        case .free: share0 = 1; mass0 = { world.labor[$0] / (sigma * entryCosts[$0]) }
        case let .fixed(mass): share0 = (sigma - 1) / sigma; mass0 = { mass[$0] }
        }
        return (0..<world.count).map { i in
            world.tfp[i] * markup * share0 / pow(mass0(i) * momentFactor, 1 / (sigma - 1))
        }
    }

    public func buyerPrices(world: World, importer n: Int, wages: [Double], spending: [Double]?) -> [Double] {
        let m = world.count, b = lowerBounds(world: world), s = labourShare
        if !hasMarketFixedCosts {
            return (0..<m).map { i in
                let c = (1 + world.tariff(importer: n, exporter: i)) * markup * world.tradeCost(importer: n, exporter: i) * s * wages[i]
                return c / (pow(entryMass(world: world, i) * momentFactor, 1 / (sigma - 1)) * b[i])
            }
        }
        guard let x = spending else { preconditionFailure("Melitz composite prices need the importer's spending") }
        let k = shape, theta = spendingElasticity
        return (0..<m).map { i in
            let t = world.tariff(importer: n, exporter: i), w = s * wages[i]
            let c = (1 + t) * markup * world.tradeCost(importer: n, exporter: i) * w
            let logP = log(c) - log(b[i]) - (log(entryMass(world: world, i)) + log(momentFactor)) / k
                + theta * log(sigma * w * fixedCosts[n * m + i] * (1 + t)) - theta * log(x[i])
            return exp(logP)
        }
    }

    /// The firm side of an equilibrium: cutoffs, sellers and sales at the buyer prices and spending found.
    public func margins(world: World, wages: [Double], buyerPrices p: [[Double]], spending x: [[Double]]) -> CompositeMargins {
        let m = world.count, b = lowerBounds(world: world), s = labourShare
        var cutoffs = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
        var sellers = cutoffs, meanSales = cutoffs
        let mass = (0..<m).map { entryMass(world: world, $0) }
        for n in 0..<m {
            for i in 0..<m {
                let t = world.tariff(importer: n, exporter: i), w = s * wages[i]
                let c = (1 + t) * markup * world.tradeCost(importer: n, exporter: i) * w
                let revenue = x[n][i] / (1 + t)
                if hasMarketFixedCosts {
                    // r(φ*)/σ = w f: φ*^(σ−1) = σ w f (1 + t) c^(σ−1) P^(1−σ) / X.
                    let f = fixedCosts[n * m + i]
                    let phi = pow(sigma * w * f * (1 + t) / x[n][i], 1 / (sigma - 1)) * c / p[n][i]
                    cutoffs[n][i] = phi
                    sellers[n][i] = mass[i] * pow(b[i] / max(phi, b[i]), shape)
                } else {
                    cutoffs[n][i] = b[i]
                    sellers[n][i] = mass[i]
                }
                meanSales[n][i] = revenue / sellers[n][i]
            }
        }
        return CompositeMargins(lowerBounds: b, entryMass: mass, cutoffs: cutoffs, sellers: sellers, meanSales: meanSales)
    }
}

extension MelitzCompositeSupply {
    public var parameters: [(name: String, value: SupplyReport.Value)] {
        let m = Int(Double(fixedCosts.count).squareRoot().rounded())
        var out: [(name: String, value: SupplyReport.Value)] = [
            ("sigma", .number(sigma)), ("shape", .number(shape)),
            ("fixed_cost", .matrix((0..<m).map { Array(fixedCosts[($0 * m)..<(($0 + 1) * m)]) }))]
        switch entry {
        case .free: out.append(("entry_cost", .numbers(entryCosts)))
        case let .fixed(mass): out.append(("entry_mass", .numbers(mass)))
        }
        return out
    }

    /// The firm side of the equilibrium for `summary.json`: lower bounds, entry masses, cutoffs, sellers,
    /// exporter shares, mean sales, the labour split and θ; failed if a cutoff is below its lower bound
    /// (the Pareto interior formula of the composite price does not hold there).
    public func report(world: World, prices: Prices, spending: [[Double]]) -> SupplyReport? {
        let m = world.count
        guard let p = prices.buyerPrices ?? (hasMarketFixedCosts ? nil
                : (0..<m).map({ buyerPrices(world: world, importer: $0, wages: prices.wages, spending: nil) })) else { return nil }
        let g = margins(world: world, wages: prices.wages, buyerPrices: p, spending: spending)
        let s = labourShare
        // Labour of each country by use, as shares of L_i: entry (free entry), market fixed costs, production.
        var entryLabour = [Double](repeating: 0, count: m), fixedLabour = entryLabour, production = entryLabour
        for i in 0..<m {
            var fixedUse = 0.0, revenue = 0.0
            for n in 0..<m {
                fixedUse += g.sellers[n][i] * fixedCosts[n * m + i]
                revenue += spending[n][i] / (1 + world.tariff(importer: n, exporter: i))
            }
            let w = s * prices.wages[i]
            if case .free = entry { entryLabour[i] = g.entryMass[i] * entryCosts[i] / world.labor[i] }
            fixedLabour[i] = fixedUse / world.labor[i]
            production[i] = (sigma - 1) / sigma * revenue / w / world.labor[i]
        }
        var failed: [(key: String, problem: String)] = []
        for (n, i) in g.nonInterior {
            failed.append(("firms.fixed_cost", "the cutoff of \(world.names[i]) → \(world.names[n]), \(g.cutoffs[n][i]), is below the lower bound \(g.lowerBounds[i]): every firm would serve that market and the Pareto composite price (interior cutoffs) does not hold; raise f_ni"))
        }
        let violations = g.selectionViolations
        var notes: [String] = []
        if !violations.isEmpty {
            notes.append("\(violations.count) pair(s) with an export cutoff below the exporter's domestic cutoff, e.g. \(world.names[violations[0].exporter]) → \(world.names[violations[0].importer])")
        }
        let sales = (0..<m).map { n in (0..<m).map { i in spending[n][i] / (1 + world.tariff(importer: n, exporter: i)) } }
        return SupplyReport(fields: [
            ("cutoffs", .matrix(g.cutoffs)),
            ("entry_mass", .numbers(g.entryMass)),
            ("sellers", .matrix(g.sellers)),
            ("exporter_share", .numbers(g.exporterShare)),
            ("mean_sales", .matrix(g.meanSales)),
            ("sales", .matrix(sales)),
            ("labour", .object([.init("entry", .numbers(entryLabour)), .init("fixed_costs", .numbers(fixedLabour)),
                                .init("production", .numbers(production))])),
            ("lower_bounds", .numbers(g.lowerBounds)),
            ("labour_share_of_revenue", .number(s)),
            ("spending_elasticity", .number(spendingElasticity)),
            ("selection_violations", .number(Double(violations.count))),
        ], failedConditions: failed, notes: notes)
    }
}

/// The firm side of a HAT×Melitz equilibrium (importer rows).
public struct CompositeMargins: Sendable {
    public var lowerBounds: [Double]
    public var entryMass: [Double]
    /// φ*_ni (b_i when every firm serves every market).
    public var cutoffs: [[Double]]
    /// M_Ei (b_i / φ*_ni)^k.
    public var sellers: [[Double]]
    /// Producer sales per seller, X_ni / (1 + t_ni) / sellers.
    public var meanSales: [[Double]]

    /// The pairs (n, i) whose cutoff is below the lower bound: the Pareto interior formula does not hold there.
    public var nonInterior: [(importer: Int, exporter: Int)] {
        var out: [(importer: Int, exporter: Int)] = []
        for n in 0..<cutoffs.count { for i in 0..<cutoffs.count where cutoffs[n][i] < lowerBounds[i] * (1 - 1e-12) { out.append((n, i)) } }
        return out
    }

    /// The exporters i and importers n ≠ i with φ*_ni < φ*_ii: exporting more attractive than the home market.
    public var selectionViolations: [(importer: Int, exporter: Int)] {
        var out: [(importer: Int, exporter: Int)] = []
        for n in 0..<cutoffs.count { for i in 0..<cutoffs.count where n != i && cutoffs[n][i] < cutoffs[i][i] { out.append((n, i)) } }
        return out
    }

    /// The share of i's active firms (serving any market) that export (serve some n ≠ i): firms are ranked
    /// by productivity, so it is the sellers of i's easiest foreign market over those of its easiest market.
    public var exporterShare: [Double] {
        let m = cutoffs.count
        return (0..<m).map { i in
            var active = 0.0, exporting = 0.0
            for n in 0..<m {
                active = max(active, sellers[n][i])
                if n != i { exporting = max(exporting, sellers[n][i]) }
            }
            return active > 0 ? exporting / active : 0
        }
    }
}
