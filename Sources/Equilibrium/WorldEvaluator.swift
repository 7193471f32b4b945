import Foundation
import HATModel
import Parallel

/// Why a country could not be evaluated at some prices, as numbers that travel with the gathered results.
public struct CountryFailure: Sendable, Equatable {
    public enum Kind: Int, Sendable {
        case nonPositiveConsumption = 1, nonMonotoneGrid = 2, nonFiniteDistribution = 3
    }
    public var kind: Kind
    /// 1-based asset, shock and variety indices, the household iteration and the offending value (0 if n/a).
    public var asset = 0, shock = 0, variety = 0, iteration = 0
    public var value = 0.0

    static let packedCount = 6
    var packed: [Double] { [Double(kind.rawValue), Double(asset), Double(shock), Double(variety), Double(iteration), value] }
    init?(packed v: ArraySlice<Double>) {
        let b = v.startIndex
        guard let kind = Kind(rawValue: Int(v[b])) else { return nil }
        self.kind = kind
        asset = Int(v[b + 1]); shock = Int(v[b + 2]); variety = Int(v[b + 3]); iteration = Int(v[b + 4]); value = v[b + 5]
    }
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
        }
    }
}

/// One country's outcome at given prices.
public struct CountryOutcome: Sendable {
    public var aggregates: CountryAggregates
    public var household: HouseholdSolveStats
    public var distribution: DistributionStats
    /// Set when the country could not be evaluated at these prices (infeasible); aggregates are then NaN.
    public var failure: CountryFailure?
    public var failed: Bool { failure != nil }

    static func packedCount(varieties: Int) -> Int {
        CountryAggregates.packedCount(varieties: varieties) + 6 + CountryFailure.packedCount
    }

    var packed: [Double] {
        aggregates.packed + [Double(household.iterations), household.converged ? 1 : 0, household.policyChange,
                             Double(distribution.iterations), distribution.converged ? 1 : 0, distribution.change]
            + (failure?.packed ?? [Double](repeating: 0, count: CountryFailure.packedCount))
    }

    init(aggregates: CountryAggregates, household: HouseholdSolveStats, distribution: DistributionStats,
         failure: CountryFailure?) {
        self.aggregates = aggregates; self.household = household; self.distribution = distribution
        self.failure = failure
    }

    init(packed v: ArraySlice<Double>, varieties: Int) {
        let na = CountryAggregates.packedCount(varieties: varieties)
        let b = v.startIndex
        aggregates = CountryAggregates(packed: v[b..<(b + na)])
        let t = b + na
        household = HouseholdSolveStats(iterations: Int(v[t]), converged: v[t + 1] != 0, policyChange: v[t + 2])
        distribution = DistributionStats(iterations: Int(v[t + 3]), converged: v[t + 4] != 0, change: v[t + 5])
        failure = CountryFailure(packed: v[(t + 6)..<(t + 6 + CountryFailure.packedCount)])
    }
}

/// The world at given prices: every country's aggregates, in country order, on every rank.
public struct WorldOutcome: Sendable {
    public var prices: Prices
    public var countries: [CountryOutcome]

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

/// Solves the countries of a world at given prices, partitioned over the ranks of a communicator.
///
/// Collective: every rank calls `evaluate` with the same prices. Each rank solves the countries it owns
/// (a contiguous block, `Partition`), then the per-country results are all-gathered in country order.
/// No floating-point reduction crosses ranks, so results are bitwise independent of the rank count.
/// Each owned country keeps its household and distribution workspaces between evaluations.
public final class WorldEvaluator {
    public let world: World
    public let model: ModelParameters
    public let income: IncomeProcess
    public let communicator: Communicator
    public let partition: Partition
    public var owned: Range<Int> { partition.range(of: communicator.rank) }

    public private(set) var households: [Int: HouseholdSolver] = [:]
    public private(set) var distributions: [Int: StationaryDistribution] = [:]
    /// Evaluations performed so far.
    public private(set) var evaluations = 0

    /// `income` may be passed when it is already built from `model.income` (it costs O(S³)).
    public init(world: World, model: ModelParameters, communicator: Communicator, income: IncomeProcess? = nil) {
        self.world = world
        self.model = model
        self.income = income ?? IncomeProcess(model.income)
        self.communicator = communicator
        self.partition = Partition(count: world.count, parts: communicator.size)
        for i in partition.range(of: communicator.rank) {
            households[i] = HouseholdSolver(assets: model.assetPoints, shocks: self.income.count, varieties: world.count)
            distributions[i] = StationaryDistribution(assets: model.assetPoints, shocks: self.income.count)
        }
    }

    /// Solve one country at the given prices on this rank.
    public func solveCountry(_ i: Int, prices: Prices, options: EvaluationOptions) -> CountryOutcome {
        let problem = world.householdProblem(country: i, model: model, income: income, prices: prices)
        let hh = households[i]!, dist = distributions[i]!
        do {
            let hs = try hh.solve(problem, tolerance: options.householdTolerance,
                                  maxIterations: options.householdMaxIterations, warmStart: options.warmStart)
            let ds = dist.solve(household: hh, transition: income.transition, tolerance: options.distributionTolerance,
                                maxIterations: options.distributionMaxIterations, warmStart: options.warmStart)
            let agg = CountryAggregates(problem: problem, household: hh, distribution: dist, labor: world.labor[i])
            let finite = ds.change.isFinite && agg.packed.allSatisfy { $0.isFinite }
            if !finite { hh.reset(); dist.reset() }
            return CountryOutcome(aggregates: agg, household: hs, distribution: ds,
                                  failure: finite ? nil : CountryFailure(kind: .nonFiniteDistribution))
        } catch {
            // Infeasible prices: no warning here (every rank would print); the failure travels with the
            // gathered results and the root rank logs one line.
            hh.reset(); dist.reset()
            let nan = [Double](repeating: .nan, count: CountryAggregates.packedCount(varieties: world.count))
            return CountryOutcome(aggregates: CountryAggregates(packed: nan[...]),
                                  household: HouseholdSolveStats(iterations: 0, converged: false, policyChange: .nan),
                                  distribution: DistributionStats(iterations: 0, converged: false, change: .nan),
                                  failure: (error as? HouseholdError).map(CountryFailure.init) ?? CountryFailure(kind: .nonPositiveConsumption))
        }
    }

    /// Evaluate the whole world (collective over the communicator).
    public func evaluate(prices: Prices, options: EvaluationOptions) throws -> WorldOutcome {
        evaluations += 1
        var local: [Double] = []
        for i in owned { local += solveCountry(i, prices: prices, options: options).packed }
        let all = try communicator.allGatherV(local)
        let width = CountryOutcome.packedCount(varieties: world.count)
        precondition(all.count == width * world.count)
        let countries = (0..<world.count).map { i in
            CountryOutcome(packed: all[(i * width)..<((i + 1) * width)], varieties: world.count)
        }
        return WorldOutcome(prices: prices, countries: countries)
    }
}
/// Tolerances and limits of one world evaluation.
public struct EvaluationOptions: Sendable, Equatable {
    public var householdTolerance: Double
    public var distributionTolerance: Double
    public var householdMaxIterations: Int = 500
    public var distributionMaxIterations: Int = 5000
    /// Start each household and distribution from the previous evaluation's solution.
    public var warmStart: Bool = false

    public init(householdTolerance: Double, distributionTolerance: Double, warmStart: Bool = false) {
        self.householdTolerance = householdTolerance
        self.distributionTolerance = distributionTolerance
        self.warmStart = warmStart
    }
}

