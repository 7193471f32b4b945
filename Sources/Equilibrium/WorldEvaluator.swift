import Foundation
import HATModel
import Parallel

/// Why a country could not be evaluated at some prices, as numbers that travel with the gathered results.
public struct CountryFailure: Sendable, Equatable, Packable {
    public enum Kind: Int, Sendable {
        case nonPositiveConsumption = 1, nonMonotoneGrid = 2, nonFiniteDistribution = 3, otherGridBlock = 4
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

    init(aggregates: CountryAggregates, household: HouseholdSolveStats, distribution: DistributionStats,
         failure: CountryFailure?) {
        self.aggregates = aggregates; self.household = household; self.distribution = distribution
        self.failure = failure
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
///
/// Each owned country keeps a workspace (household policies and values, distribution) between
/// evaluations, and across `update(world:model:)`: an outer loop that changes trade costs, TFP or model
/// parameters (calibration, counterfactuals, sweeps) keeps its warm starts as long as the sizes
/// (N_a, S, M) stay the same.
public final class WorldEvaluator {
    public private(set) var world: World
    public private(set) var model: ModelParameters
    public private(set) var income: IncomeProcess
    public let communicator: Communicator
    public private(set) var partition: Partition
    public var owned: Range<Int> { partition.range(of: communicator.rank) }

    public private(set) var households: [Int: HouseholdSolver] = [:]
    public private(set) var distributions: [Int: StationaryDistribution] = [:]
    /// Evaluations performed so far.
    public private(set) var evaluations = 0
    /// Times the workspaces were (re)built: once at creation, again only when an update changed a size.
    public private(set) var workspaceBuilds = 0

    /// `income` may be passed when it is already built from `model.income` (it costs O(S³)).
    public init(world: World, model: ModelParameters, communicator: Communicator, income: IncomeProcess? = nil) {
        self.world = world
        self.model = model
        self.income = income ?? IncomeProcess(model.income)
        self.communicator = communicator
        self.partition = Partition(count: world.count, parts: communicator.size)
        buildWorkspaces()
    }

    private func buildWorkspaces() {
        households = [:]
        distributions = [:]
        for i in partition.range(of: communicator.rank) {
            households[i] = HouseholdSolver(assets: model.assetPoints, shocks: income.count, varieties: world.count)
            distributions[i] = StationaryDistribution(assets: model.assetPoints, shocks: income.count)
        }
        workspaceBuilds += 1
    }

    /// Evaluate a different world and/or model from now on. The workspaces, and with them the warm starts
    /// (policies on the old grid are a good start on the new one; a new γ recomputes the carried c^−γ), are
    /// kept when N_a, S and M are unchanged; the income process is rebuilt only when its parameters changed.
    /// Every rank must make the same update.
    ///
    /// Warm starts make a residual depend on the evaluations before it: a Jacobian column computed on another
    /// rank group, or a solve resumed in another process, then agrees only to the inner tolerances, not to
    /// the bit (restore workspaces with `HouseholdSolver.load` and `StationaryDistribution.load` to resume
    /// exactly).
    public func update(world: World, model: ModelParameters, income: IncomeProcess? = nil) {
        let oldShocks = self.income.count
        if model.income != self.model.income { self.income = income ?? IncomeProcess(model.income) }
        let sizesChanged = world.count != self.world.count || model.assetPoints != self.model.assetPoints
            || self.income.count != oldShocks
        self.world = world
        self.model = model
        if sizesChanged {
            partition = Partition(count: world.count, parts: communicator.size)
            buildWorkspaces()
        }
    }

    /// Warm starts from a fixed point: when set, every evaluation with `warmStart` starts each owned country
    /// from its anchor instead of from the evaluation before. An evaluation is then a function of (anchor,
    /// prices) alone, whatever was evaluated before it and on whichever rank or rank group: what a
    /// calibration needs for Jacobian columns spread over groups and for resuming from a checkpoint to the
    /// bit. Keyed by country; a rank needs the entries of the countries it owns.
    public var anchor: [Int: CountrySolution] = [:]

    /// The stored solution of an owned country (after an evaluation).
    public func solution(of country: Int) -> CountrySolution {
        CountrySolution(policy: households[country]!.policy, masses: distributions[country]!.masses)
    }

    /// Forget every stored solution: the next evaluation starts cold even with `warmStart`.
    public func resetWorkspaces() {
        for hh in households.values { hh.reset() }
        for d in distributions.values { d.reset() }
    }

    /// Solve one country at the given prices on this rank.
    public func solveCountry(_ i: Int, prices: Prices, options: EvaluationOptions) -> CountryOutcome {
        let problem = world.householdProblem(country: i, model: model, income: income, prices: prices)
        let hh = households[i]!, dist = distributions[i]!
        if options.warmStart, let start = anchor[i] {
            hh.load(start.policy, gamma: model.gamma)
            dist.load(masses: start.masses)
        }
        do {
            let hs = try hh.solve(problem, tolerance: options.householdTolerance,
                                  maxIterations: options.householdMaxIterations, warmStart: options.warmStart)
            let ds = try dist.solve(household: hh, transition: income.transition, tolerance: options.distributionTolerance,
                                maxIterations: options.distributionMaxIterations, warmStart: options.warmStart)
            let agg = CountryAggregates(problem: problem, household: hh, distribution: dist, labor: world.labor[i])
            let finite = ds.change.isFinite && agg.isFinite
            if !finite { hh.reset(); dist.reset() }
            return CountryOutcome(aggregates: agg, household: hs, distribution: ds,
                                  failure: finite ? nil : CountryFailure(kind: .nonFiniteDistribution))
        } catch {
            // Infeasible prices: no warning here (every rank would print); the failure travels with the
            // gathered results and the root rank logs one line.
            hh.reset(); dist.reset()
            return CountryOutcome(aggregates: .unavailable(varieties: world.count),
                                  household: HouseholdSolveStats(iterations: 0, converged: false, policyChange: .nan),
                                  distribution: DistributionStats(iterations: 0, converged: false, change: .nan),
                                  failure: (error as? HouseholdError).map(CountryFailure.init) ?? CountryFailure(kind: .nonPositiveConsumption))
        }
    }

    /// Evaluate the whole world (collective over the communicator).
    public func evaluate(prices: Prices, options: EvaluationOptions) throws -> WorldOutcome {
        evaluations += 1
        let local = owned.map { solveCountry($0, prices: prices, options: options) }
        let countries = try communicator.allGather(local)
        precondition(countries.count == world.count)
        return WorldOutcome(prices: prices, countries: countries)
    }
}

/// One country's solved household policy and stationary distribution: a warm start, or a checkpoint's
/// world solution.
public struct CountrySolution: Sendable, Equatable, Packable {
    public var policy: HouseholdPolicy
    /// λ, `[shock][asset]`.
    public var masses: [Double]

    public init(policy: HouseholdPolicy, masses: [Double]) { self.policy = policy; self.masses = masses }

    public func pack(into m: inout MessageWriter) {
        m.write(policy.consumption); m.write(policy.values); m.write(masses)
    }
    public init(unpacking m: inout MessageReader) throws {
        policy = HouseholdPolicy(consumption: try m.read(), values: try m.read())
        masses = try m.read()
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
    }
    public init(unpacking m: inout MessageReader) throws {
        aggregates = CountryAggregates(efficiencyUnits: try m.read(), bondDemand: try m.read(), assets: try m.read(),
                                       expenditure: try m.read(), imports: try m.read(), output: try m.read(),
                                       massAtTop: try m.read())
        household = HouseholdSolveStats(iterations: try m.read(), converged: try m.read(), policyChange: try m.read())
        distribution = DistributionStats(iterations: try m.read(), converged: try m.read(), change: try m.read())
        failure = try m.read()
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

