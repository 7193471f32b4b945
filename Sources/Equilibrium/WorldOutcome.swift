// What an evaluation returns: each country's outcome or failure and the world's, with their messages.
import HATModel
import Parallel

/// Why a country could not be evaluated at some prices, as numbers that travel with the gathered results.
public struct CountryFailure: Sendable, Equatable, Packable {
    public enum Kind: Int, Sendable {
        case nonPositiveConsumption = 1, nonMonotoneGrid = 2, nonFiniteDistribution = 3, otherGridBlock = 4
        /// The fixed point of buyer prices and spending of a supply side with scale economies did not settle.
        case compositePrices = 5
        /// The spending on one source's composite collapsed towards zero inside that fixed point.
        case compositeCollapse = 6
    }
    public var kind: Kind
    /// 1-based asset, shock and variety indices, the household iteration and the offending value (0 if n/a).
    public var asset = 0, shock = 0, variety = 0, iteration = 0
    public var value = 0.0

    init(kind: Kind, asset: Int = 0, shock: Int = 0, variety: Int = 0, iteration: Int = 0, value: Double = 0) {
        self.kind = kind; self.asset = asset; self.shock = shock; self.variety = variety; self.iteration = iteration
        self.value = value
    }
    init(_ error: HouseholdError) {
        switch error {
        case let .nonPositiveConsumption(a, s, j, it, c):
            self.init(kind: .nonPositiveConsumption, asset: a + 1, shock: s + 1, variety: j + 1, iteration: it, value: c)
        case let .nonMonotoneGrid(s, j, it):
            self.init(kind: .nonMonotoneGrid, shock: s + 1, variety: j + 1, iteration: it)
        case let .failedInAnotherBlock(it):
            self.init(kind: .otherGridBlock, iteration: it)
        }
    }

    /// One phrase for the log, e.g. "consumption -0.2 at asset 1, shock 1, variety 2 (household iteration 3)".
    public var description: String {
        switch kind {
        case .nonPositiveConsumption:
            return "consumption \(value) at asset \(asset), shock \(shock), variety \(variety) (household iteration \(iteration))"
        case .nonMonotoneGrid:
            return "endogenous asset grid not increasing at shock \(shock), variety \(variety) (household iteration \(iteration))"
        case .nonFiniteDistribution:
            return "the stationary distribution is not finite"
        case .otherGridBlock:
            return "another block of the country's grid failed (household iteration \(iteration))"
        case .compositePrices:
            return "the composite prices did not settle: spending still moves by \(value) of the total after \(iteration) household solves"
        case .compositeCollapse:
            return "the spending on the composite of variety \(variety) collapses (share \(value) after \(iteration) household solves): its price rises faster than the households turn away from it, so the fixed point of prices and spending has no interior solution from here (lower the fixed costs or the scale economy 1/(sigma-1) - 1/k)"
        }
    }
}

/// One country's outcome at given prices.
public struct CountryOutcome: Sendable, Packable {
    public var aggregates: CountryAggregates
    public var household: HouseholdSolveStats
    public var distribution: DistributionStats
    /// Set when the country could not be evaluated at these prices (infeasible); aggregates are then NaN.
    public var failure: CountryFailure?
    public var failed: Bool { failure != nil }
    /// The buyer prices the country's households faced, when the supply side's prices depend on spending
    /// (the fixed point the evaluation solved); nil otherwise.
    public var buyerPrices: [Double]?

    init(aggregates: CountryAggregates, household: HouseholdSolveStats, distribution: DistributionStats,
         failure: CountryFailure?, buyerPrices: [Double]? = nil) {
        self.aggregates = aggregates; self.household = household; self.distribution = distribution
        self.failure = failure; self.buyerPrices = buyerPrices
    }

    /// A country that could not be evaluated: NaN aggregates, no solve statistics, and why.
    static func failed(varieties: Int, failure: CountryFailure) -> CountryOutcome {
        CountryOutcome(aggregates: .unavailable(varieties: varieties),
                       household: HouseholdSolveStats(iterations: 0, converged: false, policyChange: .nan),
                       distribution: DistributionStats(iterations: 0, converged: false, change: .nan), failure: failure)
    }
}

/// The world at given prices: every country's aggregates, in country order, on every rank.
public struct WorldOutcome: Sendable {
    /// The prices evaluated, with the buyer prices found when they depend on spending.
    public var prices: Prices
    public var countries: [CountryOutcome]

    public init(prices: Prices, countries: [CountryOutcome]) {
        self.prices = prices
        self.countries = countries
        if countries.contains(where: { $0.buyerPrices != nil }) && !countries.contains(where: { $0.failed }) {
            self.prices.buyerPrices = countries.map { $0.buyerPrices ?? [] }
        }
    }

    public var failed: Bool { countries.contains { $0.failed } }
    /// "NAME: what failed" for every country that could not be evaluated (names in country order).
    public func failureSummary(names: [String]) -> String {
        zip(names, countries).compactMap { name, c in c.failure.map { "\(name): \($0.description)" } }
            .joined(separator: "; ")
    }
    public var bondDemand: [Double] { countries.map { $0.aggregates.bondDemand } }
    public var output: [Double] { countries.map { $0.aggregates.output } }
    /// M_ij, row = importer.
    public var tradeFlows: [[Double]] { countries.map { $0.aggregates.imports } }
    /// π_ij = M_ij / PC_i, row = importer.
    public var tradeShares: [[Double]] { countries.map { $0.aggregates.tradeShares } }

    /// Goods-market excess supply of every producer j: Y_j − Σ_i M_ij / (1 + t_ij), summed in country order.
    /// (Producer revenue excludes tariffs; with zero tariffs this is the author's Y_j − Σ_i M_ij.)
    public func goodsMarketResiduals(world: World) -> [Double] {
        let m = countries.count
        return (0..<m).map { j in
            var demand = 0.0
            for i in 0..<m { demand += countries[i].aggregates.imports[j] / (1 + world.tariff(importer: i, exporter: j)) }
            return countries[j].aggregates.output - demand
        }
    }
}

// MARK: - Messages

extension CountryFailure {
    public func pack(into m: inout MessageWriter) {
        m.write(kind.rawValue); m.write(asset); m.write(shock); m.write(variety); m.write(iteration); m.write(value)
    }
    public init(unpacking m: inout MessageReader) throws {
        let raw: Int = try m.read()
        guard let kind = Kind(rawValue: raw) else { throw MessageError.invalid("CountryFailure kind \(raw)") }
        self.init(kind: kind, asset: try m.read(), shock: try m.read(), variety: try m.read(), iteration: try m.read(),
                  value: try m.read())
    }
}

extension CountryOutcome {
    public func pack(into m: inout MessageWriter) {
        let a = aggregates
        m.write(a.efficiencyUnits); m.write(a.bondDemand); m.write(a.assets); m.write(a.expenditure)
        m.write(a.imports); m.write(a.output); m.write(a.massAtTop)
        m.write(household.iterations); m.write(household.converged); m.write(household.policyChange)
        m.write(distribution.iterations); m.write(distribution.converged); m.write(distribution.change)
        m.write(failure)
        m.write(buyerPrices != nil); if let p = buyerPrices { m.write(p) }
    }
    public init(unpacking m: inout MessageReader) throws {
        aggregates = CountryAggregates(efficiencyUnits: try m.read(), bondDemand: try m.read(), assets: try m.read(),
                                       expenditure: try m.read(), imports: try m.read(), output: try m.read(),
                                       massAtTop: try m.read())
        household = HouseholdSolveStats(iterations: try m.read(), converged: try m.read(), policyChange: try m.read())
        distribution = DistributionStats(iterations: try m.read(), converged: try m.read(), change: try m.read())
        failure = try m.read()
        buyerPrices = try m.read() as Bool ? try m.read() as [Double] : nil
    }
}
