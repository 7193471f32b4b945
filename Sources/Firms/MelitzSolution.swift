import Foundation

/// A solved Melitz–Chaney world and everything reported about it (FIRMS-SPEC §2.5). Matrices are importer
/// rows, [n][i]. Nominal values are in units that make the mean wage one (w ≡ 1 with an outside good).
public struct MelitzSolution: Sendable {
    public var world: MelitzWorld
    public var report: MelitzSolveReport
    public var wages: [Double]
    /// B_n = (σ−1)^(σ−1) σ^(−σ) E_n P_n^(σ−1).
    public var demandShifters: [Double]
    public var entryMass: [Double]
    /// φ*_ni.
    public var cutoffs: [[Double]]
    /// M_ni = M_E,i (1 − G_i(φ*_ni)).
    public var sellers: [[Double]]
    /// X_ni at producer prices.
    public var sales: [[Double]]
    /// Consumers' spending on the differentiated good, E_n = Σ_i (1 + t_ni) X_ni.
    public var spending: [Double]
    /// Y_n = w_n L_n + tariff revenue (+ profits under fixed entry).
    public var income: [Double]
    public var tariffRevenue: [Double]
    public var profits: [Double]
    public var priceIndex: [Double]

    public struct LabourSplit: Sendable, Equatable {
        public var entry: Double, fixedCosts: Double, production: Double
        public var total: Double { entry + fixedCosts + production }
    }

    init(world: MelitzWorld, wages w0: [Double], shifters b0: [Double], entryMass given: [Double]?, report: MelitzSolveReport,
         normalise: Bool = true) throws {
        self.world = world
        self.report = report
        let n = world.count, sigma = world.sigma
        // Mean wage one (the model is homogeneous of degree one in w: B scales as c^σ, cutoffs not at all).
        let c = world.differentiatedShare == nil && normalise ? Double(n) / w0.reduce(0, +) : 1
        wages = w0.map { c * $0 }
        demandShifters = b0.map { pow(c, sigma) * $0 }
        let block = FirmBlock(world: world, wages: wages, shifters: demandShifters)
        if let given {
            // Fixed masses are a primitive; the outside-good masses come in the units of w ≡ 1 (c = 1).
            entryMass = given
        } else {
            entryMass = (0..<n).map { block.freeEntryMass($0) }
        }
        cutoffs = (0..<n).map { dest in (0..<n).map { block.cutoffs[dest * n + $0] } }
        let mass = entryMass
        sellers = (0..<n).map { dest in (0..<n).map { block.survival[dest * n + $0] * mass[$0] } }
        sales = (0..<n).map { dest in (0..<n).map { block.salesPerEntrant(dest, $0) * mass[$0] } }
        let x = sales
        spending = (0..<n).map { dest in (0..<n).reduce(0) { $0 + (1 + world.tariffs[dest][$1]) * x[dest][$1] } }
        tariffRevenue = (0..<n).map { dest in (0..<n).reduce(0) { $0 + world.tariffs[dest][$1] * x[dest][$1] } }
        var profit = [Double](repeating: 0, count: n)
        if case .fixed = world.entry {
            for src in 0..<n { for dest in 0..<n {
                profit[src] += x[dest][src] / sigma - wages[src] * world.fixedCosts[dest][src] * block.survival[dest * n + src] * mass[src]
            } }
        }
        profits = profit
        let w = wages, t = tariffRevenue
        income = (0..<n).map { w[$0] * world.labour[$0] + t[$0] + profit[$0] }
        let e = spending, b = demandShifters
        priceIndex = (0..<n).map { pow(b[$0] * pow(sigma, sigma) / (pow(sigma - 1, sigma - 1) * e[$0]), 1 / (sigma - 1)) }
        guard wages.allSatisfy({ $0 > 0 && $0.isFinite }), priceIndex.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw FirmsError(key: "", problem: "the equilibrium has non-finite wages or prices")
        }
    }

    public var count: Int { world.count }

    /// λ_ni = (1 + t_ni) X_ni / E_n: shares of the differentiated good's spending.
    public var tradeShares: [[Double]] {
        (0..<count).map { dest in (0..<count).map { (1 + world.tariffs[dest][$0]) * sales[dest][$0] / spending[dest] } }
    }

    public var realWages: [Double] { (0..<count).map { wages[$0] / priceIndex[$0] } }

    /// Welfare per worker, income over the price of the consumption bundle (P_n^β with an outside good).
    public var welfare: [Double] {
        (0..<count).map { n in
            let perWorker = income[n] / world.labour[n]
            return perWorker / pow(priceIndex[n], world.differentiatedShare ?? 1)
        }
    }

    /// Welfare from the domestic cutoff alone (FIRMS-SPEC §1.2, one sector, free entry, no tariffs):
    /// W_n = (φ*_nn/m) (L_n/(σ f_nn))^(1/(σ−1)).
    public var welfareFromDomesticCutoff: [Double] {
        let sigma = world.sigma, m = sigma / (sigma - 1)
        return (0..<count).map { n in cutoffs[n][n] / m * pow(world.labour[n] / (sigma * world.fixedCosts[n][n]), 1 / (sigma - 1)) }
    }

    /// The share of i's active firms (serving any market) that export (serve some n ≠ i).
    public var exporterShares: [Double] {
        (0..<count).map { src in
            let g = world.distributions[src]
            let active = g.survival((0..<count).map { cutoffs[$0][src] }.min()!)
            let exportCut = (0..<count).filter { $0 != src }.map { cutoffs[$0][src] }.min() ?? .infinity
            return active > 0 ? g.survival(exportCut) / active : 0
        }
    }

    /// Mean producer sales per seller, X_ni / M_ni (0 where nobody sells).
    public var meanSales: [[Double]] {
        (0..<count).map { dest in (0..<count).map { sellers[dest][$0] > 0 ? sales[dest][$0] / sellers[dest][$0] : 0 } }
    }

    /// The labour each country spends on entry, market fixed costs and variable production, as shares of L_i.
    public var labourSplit: [LabourSplit] {
        (0..<count).map { src in
            let l = world.labour[src], sigma = world.sigma
            let entry: Double
            if case .free = world.entry { entry = world.entryCosts[src] * entryMass[src] } else { entry = 0 }
            var fixed = 0.0, production = 0.0
            for dest in 0..<count {
                fixed += world.fixedCosts[dest][src] * sellers[dest][src]
                production += (sigma - 1) / sigma * sales[dest][src] / wages[src]
            }
            return LabourSplit(entry: entry / l, fixedCosts: fixed / l, production: production / l)
        }
    }

    /// The partial elasticity of X_ni to τ_ni at fixed wages and demand shifters, split into the intensive
    /// margin (incumbents' sales, −(σ−1)) and the extensive one (sellers at the cutoff, −φ*^σ g(φ*) /
    /// ∫_{φ*} φ^(σ−1) dG; −(k−σ+1) under Pareto), and the count of sellers' elasticity (−φ* g(φ*)/(1−G)).
    public struct Margins: Sendable, Equatable {
        public var intensive: Double, extensive: Double, sellers: Double
        public var total: Double { intensive + extensive }
        /// Mean sales per seller: the total less the sellers' count.
        public var meanSales: Double { total - sellers }
    }

    public func margins(importer dest: Int, exporter src: Int) -> Margins {
        let g = world.distributions[src], p = world.sigma - 1, cut = cutoffs[dest][src]
        let moment = g.partialMoment(cut, power: p), share = g.survival(cut)
        let extensive = moment > 0 ? -pow(cut, p + 1) * g.density(cut) / moment : 0
        let count = share > 0 ? -cut * g.density(cut) / share : 0
        return Margins(intensive: -p, extensive: extensive, sellers: count)
    }

    /// The trade-weighted mean of the bilateral margins over every importer's foreign sources.
    public var aggregateMargins: Margins {
        var total = Margins(intensive: 0, extensive: 0, sellers: 0), weight = 0.0
        for dest in 0..<count { for src in 0..<count where src != dest && sales[dest][src] > 0 {
            let m = margins(importer: dest, exporter: src), x = sales[dest][src]
            total.intensive += x * m.intensive; total.extensive += x * m.extensive; total.sellers += x * m.sellers
            weight += x
        } }
        guard weight > 0 else { return Margins(intensive: 0, extensive: 0, sellers: 0) }
        return Margins(intensive: total.intensive / weight, extensive: total.extensive / weight, sellers: total.sellers / weight)
    }

    /// The conditions an equilibrium must meet to be the model's (FIRMS-SPEC §2.1 step 4), each failure
    /// naming the pair: selection into exporting φ*_ii ≤ φ*_ni, and (Pareto, where `interior` is asked)
    /// cutoffs at or above the lower bound.
    public func checkConditions(requireInterior: Bool) throws {
        if requireInterior {
            for dest in 0..<count { for src in 0..<count where cutoffs[dest][src] < world.distributions[src].lowerSupport {
                throw FirmsError(key: "firms.lower_bound", problem: "the cutoff for \(world.names[src]) → \(world.names[dest]) (\(cutoffs[dest][src])) is below the lower bound \(world.distributions[src].lowerSupport): every entrant serves that market")
            } }
        }
        for dest in 0..<count { for src in 0..<count {
            if dest != src && world.fixedCosts[dest][src] > 0 && cutoffs[dest][src] < cutoffs[src][src] * (1 - 1e-12) {
                throw FirmsError(key: "firms.fixed_cost", problem: "selection into exporting fails for \(world.names[src]) → \(world.names[dest]): the export cutoff \(cutoffs[dest][src]) is below the domestic cutoff \(cutoffs[src][src]) (firms would export without paying the domestic overhead in f_ii)")
            }
        } }
    }
}
