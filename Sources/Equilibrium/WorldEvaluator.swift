import Foundation
import HATModel
import Parallel

/// One country's outcome at given prices.
public struct CountryOutcome: Sendable {
    public var aggregates: CountryAggregates
    public var household: HouseholdSolveStats
    public var distribution: DistributionStats
    /// Set when the household kernel failed (infeasible prices); aggregates are then NaN.
    public var failed: Bool

    static func packedCount(varieties: Int) -> Int { CountryAggregates.packedCount(varieties: varieties) + 7 }

    var packed: [Double] {
        aggregates.packed + [Double(household.iterations), household.converged ? 1 : 0, household.policyChange,
                             Double(distribution.iterations), distribution.converged ? 1 : 0, distribution.change,
                             failed ? 1 : 0]
    }

    init(aggregates: CountryAggregates, household: HouseholdSolveStats, distribution: DistributionStats, failed: Bool) {
        self.aggregates = aggregates; self.household = household; self.distribution = distribution
        self.failed = failed
    }

    init(packed v: ArraySlice<Double>, varieties: Int) {
        let na = CountryAggregates.packedCount(varieties: varieties)
        let b = v.startIndex
        aggregates = CountryAggregates(packed: v[b..<(b + na)])
        let t = b + na
        household = HouseholdSolveStats(iterations: Int(v[t]), converged: v[t + 1] != 0, policyChange: v[t + 2])
        distribution = DistributionStats(iterations: Int(v[t + 3]), converged: v[t + 4] != 0, change: v[t + 5])
        failed = v[t + 6] != 0
    }
}

/// The world at given prices: every country's aggregates, in country order, on every rank.
public struct WorldOutcome: Sendable {
    public var prices: Prices
    public var countries: [CountryOutcome]

    public var failed: Bool { countries.contains { $0.failed } }
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

    public init(world: World, model: ModelParameters, communicator: Communicator) {
        self.world = world
        self.model = model
        self.income = IncomeProcess(model.income)
        self.communicator = communicator
        self.partition = Partition(count: world.count, parts: communicator.size)
        for i in partition.range(of: communicator.rank) {
            households[i] = HouseholdSolver(assets: model.assetPoints, shocks: income.count, varieties: world.count)
            distributions[i] = StationaryDistribution(assets: model.assetPoints, shocks: income.count)
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
            return CountryOutcome(aggregates: agg, household: hs, distribution: ds, failed: !ds.change.isFinite)
        } catch {
            hh.reset(); dist.reset()
            FileHandle.standardError.write(Data("warning: \(world.names[i]): \(error)\n".utf8))
            let nan = [Double](repeating: .nan, count: CountryAggregates.packedCount(varieties: world.count))
            return CountryOutcome(aggregates: CountryAggregates(packed: nan[...]),
                                  household: HouseholdSolveStats(iterations: 0, converged: false, policyChange: .nan),
                                  distribution: DistributionStats(iterations: 0, converged: false, change: .nan),
                                  failed: true)
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
