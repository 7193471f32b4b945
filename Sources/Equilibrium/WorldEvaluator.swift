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

/// How a world evaluation uses ranks beyond whole countries (see `WorkLayout`).
public enum GridBlockMode: String, Sendable, CaseIterable {
    /// Split countries into blocks of income states only when ranks outnumber countries.
    case auto
    /// Always cut the (country, income state) rows into equal-cost pieces, one per rank.
    case on
    /// Whole countries only (extra ranks idle).
    case off
}

/// Solves the countries of a world at given prices, spread over the ranks of a communicator.
///
/// Collective: every rank calls `evaluate` with the same prices. Each rank solves its pieces of the
/// `layout`: whole countries, or a block of a country's income states. The ranks holding a country's blocks
/// (its group) exchange rows inside every household and distribution step on the country's
/// sub-communicator, and every block computes the same numbers as an unsplit solve (HouseholdSolver,
/// StationaryDistribution, CountryAggregates.rowTotals). Each country's lead rank reports its outcome; the
/// outcomes are all-gathered in country order. No floating-point reduction crosses ranks, so results are
/// bitwise independent of the rank count and of the layout.
///
/// Each piece keeps a workspace (household policies and values, distribution) between evaluations, and
/// across `update(world:model:)`: an outer loop that changes trade costs, TFP or model parameters
/// (calibration, counterfactuals, sweeps) keeps its warm starts as long as the sizes (N_a, S, M) stay the
/// same. With `balancing`, the layout is rebuilt once from the first successful evaluation's measured costs
/// (household iterations × grid size), at the start of the next evaluation, and the workspaces move with
/// their countries, so warm starts continue exactly.
public final class WorldEvaluator {
    public private(set) var world: World
    public private(set) var model: ModelParameters
    public private(set) var income: IncomeProcess
    public let communicator: Communicator
    public let gridBlocks: GridBlockMode
    /// Rebuild the layout from measured costs after the first evaluation (see the type's description).
    public let balancing: Bool
    public private(set) var layout: WorkLayout
    /// The countries this rank reports (leads); whole-country layouts: the countries it owns.
    public var owned: Range<Int> { layout.led(by: communicator.rank) }
    /// This rank's pieces, in country order.
    public var pieces: [WorkLayout.Piece] { layout.pieces[communicator.rank] }

    public private(set) var households: [Int: HouseholdSolver] = [:]
    public private(set) var distributions: [Int: StationaryDistribution] = [:]
    /// The buffers the household solves of this rank share (see `HouseholdScratch`).
    private var scratch: HouseholdScratch?
    /// Row exchanges of the split countries this rank holds a block of.
    private var exchanges: [Int: CommunicatorBlocks] = [:]
    /// Evaluations performed so far.
    public private(set) var evaluations = 0
    /// Times the workspaces were (re)built: once at creation, again when an update changed a size or the
    /// load balancing moved countries.
    public private(set) var workspaceBuilds = 0
    /// Measured cost of every country in the last evaluation: (household iterations + 1) × N_a × S × M.
    public private(set) var costs: [Double]
    /// Whether the measured costs were looked at (after the first evaluation with `balancing`).
    public private(set) var rebalanced = false
    /// Whether that changed the layout (the workspaces moved).
    public private(set) var relaidOut = false

    /// `income` may be passed when it is already built from `model.income` (it costs O(S³)).
    public init(world: World, model: ModelParameters, communicator: Communicator, income: IncomeProcess? = nil,
                gridBlocks: GridBlockMode = .off, balancing: Bool = false) throws {
        self.world = world
        self.model = model
        self.income = income ?? IncomeProcess(model.income)
        self.communicator = communicator
        self.gridBlocks = gridBlocks
        self.balancing = balancing
        costs = [Double](repeating: 1, count: world.count)
        layout = WorkLayout(countries: 0, shocks: 0, pieces: [])
        layout = Self.layout(costs: costs, shocks: self.income.count, ranks: communicator.size, mode: gridBlocks)
        try buildWorkspaces()
    }

    /// The layout for given per-country costs. Equal costs give whole countries in `Partition`'s blocks (the
    /// layout an evaluator starts with).
    public static func layout(costs: [Double], shocks: Int, ranks: Int, mode: GridBlockMode) -> WorkLayout {
        let m = costs.count
        let split = mode == .on || (mode == .auto && ranks > m)
        if split { return .blocks(costs: costs, shocks: shocks, ranks: ranks) }
        if Set(costs).count <= 1 {
            let partition = Partition(count: m, parts: ranks)
            return WorkLayout(countries: m, shocks: shocks, pieces: (0..<ranks).map { r in
                partition.range(of: r).map { WorkLayout.Piece(country: $0, shocks: 0..<shocks) }
            })
        }
        return .countries(costs: costs, shocks: shocks, ranks: ranks)
    }

    /// Workspaces for this rank's pieces: `reuse` keeps existing ones (same country, same rows), the others
    /// are new and share one scratch (rebuilt when the sizes changed).
    private func buildWorkspaces(reuse: [Int: (HouseholdSolver, StationaryDistribution)] = [:]) throws {
        let na = model.assetPoints, nS = income.count, nJ = world.count
        if scratch == nil || scratch!.assetCount != na || scratch!.shockCount != nS || scratch!.varietyCount != nJ {
            scratch = HouseholdScratch(assets: na, shocks: nS, varieties: nJ)
        }
        households = [:]
        distributions = [:]
        for piece in pieces {
            if let (hh, dist) = reuse[piece.country] {
                households[piece.country] = hh; distributions[piece.country] = dist
            } else {
                households[piece.country] = HouseholdSolver(assets: na, shocks: nS, varieties: nJ, scratch: scratch)
                distributions[piece.country] = StationaryDistribution(assets: na, shocks: nS)
            }
        }
        try buildExchanges()
        workspaceBuilds += 1
    }

    /// One sub-communicator per split country (collective over the whole communicator, in country order).
    private func buildExchanges() throws {
        exchanges = [:]
        for i in 0..<world.count {
            let group = layout.group(of: i)
            guard group.count > 1 else { continue }
            let comm = try communicator.subgroup(group)
            if let comm {
                let blocks = group.map { r in layout.pieces[r].first { $0.country == i }!.shocks }
                exchanges[i] = CommunicatorBlocks(communicator: comm, blocks: blocks)
            }
        }
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
    public func update(world: World, model: ModelParameters, income: IncomeProcess? = nil) throws {
        let oldShocks = self.income.count
        if model.income != self.model.income { self.income = income ?? IncomeProcess(model.income) }
        let sizesChanged = world.count != self.world.count || model.assetPoints != self.model.assetPoints
            || self.income.count != oldShocks
        self.world = world
        self.model = model
        if sizesChanged {
            costs = [Double](repeating: 1, count: world.count)
            rebalanced = false; relaidOut = false; pendingLayout = nil
            layout = Self.layout(costs: costs, shocks: self.income.count, ranks: communicator.size, mode: gridBlocks)
            try buildWorkspaces()
        }
    }

    /// Warm starts from a fixed point: when set, every evaluation with `warmStart` starts each owned country
    /// from its anchor instead of from the evaluation before. An evaluation is then a function of (anchor,
    /// prices) alone, whatever was evaluated before it and on whichever rank or rank group: what a
    /// calibration needs for Jacobian columns spread over groups and for resuming from a checkpoint to the
    /// bit. Keyed by country; a rank needs the entries of the countries it owns. Whole-country layouts only.
    public var anchor: [Int: CountrySolution] = [:]

    /// The stored solution of an owned country (after an evaluation). Whole-country layouts only: a block
    /// holds only its rows (`gatherSolution` assembles a split country).
    public func solution(of country: Int) -> CountrySolution {
        precondition(layout.group(of: country).count == 1, "solution(of:) of a split country")
        return CountrySolution(policy: households[country]!.policy, masses: distributions[country]!.masses)
    }

    /// Forget every stored solution: the next evaluation starts cold even with `warmStart`.
    public func resetWorkspaces() {
        for hh in households.values { hh.reset() }
        for d in distributions.values { d.reset() }
    }

    /// Solve one country, or this rank's block of it, at the given prices (collective over the country's
    /// group when it is split).
    public func solveCountry(_ i: Int, prices: Prices, options: EvaluationOptions) -> CountryOutcome {
        let problem = world.householdProblem(country: i, model: model, income: income, prices: prices)
        let hh = households[i]!, dist = distributions[i]!
        let blocks = exchanges[i]
        if options.warmStart, let start = anchor[i] {
            hh.load(start.policy)
            dist.load(masses: start.masses)
        }
        do {
            let hs = try hh.solve(problem, tolerance: options.householdTolerance,
                                  maxIterations: options.householdMaxIterations, warmStart: options.warmStart,
                                  blocks: blocks)
            let ds = try dist.solve(household: hh, transition: income.transition, tolerance: options.distributionTolerance,
                                    maxIterations: options.distributionMaxIterations, warmStart: options.warmStart,
                                    blocks: blocks)
            let agg: CountryAggregates
            if let blocks {
                let width = CountryAggregates.rowWidth(varieties: world.count)
                var rows = [Double](repeating: 0, count: income.count * width)
                try rows.withUnsafeMutableBufferPointer { buf in
                    CountryAggregates.rowTotals(problem: problem, household: hh, distribution: dist,
                                                shocks: blocks.ownedShocks, into: buf.baseAddress!)
                    try blocks.shareRows([buf.baseAddress!], rowLength: width)
                }
                agg = CountryAggregates(rowTotals: rows, problem: problem, labor: world.labor[i])
            } else {
                agg = CountryAggregates(problem: problem, household: hh, distribution: dist, labor: world.labor[i])
            }
            let finite = ds.change.isFinite && agg.isFinite
            if !finite { hh.reset(); dist.reset() }
            return CountryOutcome(aggregates: agg, household: hs, distribution: ds,
                                  failure: finite ? nil : CountryFailure(kind: .nonFiniteDistribution))
        } catch {
            // Infeasible prices: no warning here (every rank would print); the failure travels with the
            // gathered results and the root rank logs one line. Blocks of a split country fail together
            // (the household step agrees on failures before anyone throws).
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
        if let next = pendingLayout {
            pendingLayout = nil
            try relayOut(to: next)
        }
        let rank = communicator.rank
        // Split countries first (in country order, so the group collectives cannot wait in a cycle), then the
        // whole ones: the ranks sharing a country meet at its blocks at the start instead of one waiting for
        // the other to finish its whole countries.
        let split = pieces.filter { exchanges[$0.country] != nil }, whole = pieces.filter { exchanges[$0.country] == nil }
        var reported: [Int: CountryOutcome] = [:]
        for piece in split + whole {
            let outcome = solveCountry(piece.country, prices: prices, options: options)
            if layout.lead(of: piece.country) == rank { reported[piece.country] = outcome }
        }
        let local = owned.map { reported[$0]! }
        let countries = try communicator.allGather(local)
        precondition(countries.count == world.count)
        let cells = Double(model.assetPoints * income.count * world.count)
        if !countries.contains(where: { $0.failed }) {
            costs = countries.map { Double($0.household.iterations + 1) * cells }
            if balancing && !rebalanced { planRebalance() }
        }
        return WorldOutcome(prices: prices, countries: countries)
    }

    /// A better layout found from the measured costs, applied at the start of the next evaluation (so the
    /// workspaces that produced the last outcome stay where they are, whole, until they are solved again).
    private var pendingLayout: WorkLayout?

    /// Propose the layout for the measured costs; kept only when it lowers the imbalance by more than two
    /// points. Every rank decides the same from the gathered costs.
    private func planRebalance() {
        rebalanced = true
        let proposed = Self.layout(costs: costs, shocks: income.count, ranks: communicator.size, mode: gridBlocks)
        // Never more pieces on a rank than at the start: each piece holds a whole country's arrays, and the
        // memory estimate checked before the run counts the starting layout's pieces.
        if proposed != layout, proposed.maxPieces <= layout.maxPieces,
           proposed.imbalance(costs: costs) < layout.imbalance(costs: costs) - 0.02 {
            pendingLayout = proposed
        }
    }

    /// Move to `proposed` (collective): each moved country is gathered from its old ranks (c, v and λ are
    /// all a warm start needs; the next solve recomputes a′, π and the lotteries) and loaded on its new ones.
    /// The gathered solutions of the countries arriving on a rank are held until the new workspaces exist.
    private func relayOut(to proposed: WorkLayout) throws {
        var moved: [Int: CountrySolution] = [:]
        for i in 0..<world.count {
            let before = layout.pieces.map { $0.first { $0.country == i } }
            let after = proposed.pieces.map { $0.first { $0.country == i } }
            guard before != after else { continue }
            if let arrays = try gatherCountry(i), after[communicator.rank] != nil {
                moved[i] = CountrySolution(policy: HouseholdPolicy(consumption: arrays.consumption, values: arrays.values),
                                           masses: arrays.masses)
            }
        }
        // Pieces that stay on this rank with the same rows keep their workspaces; the others are new and load
        // the gathered arrays (old workspaces are released before new ones are allocated where possible).
        let mine = layout.pieces[communicator.rank]
        var reuse: [Int: (HouseholdSolver, StationaryDistribution)] = [:]
        for piece in proposed.pieces[communicator.rank] where mine.contains(piece) {
            reuse[piece.country] = (households[piece.country]!, distributions[piece.country]!)
        }
        households = [:]; distributions = [:]
        layout = proposed
        relaidOut = true
        try buildWorkspaces(reuse: reuse)
        for (i, solution) in moved where reuse[i] == nil {
            households[i]!.load(solution.policy)
            distributions[i]!.load(masses: solution.masses)
        }
    }

    /// Country `i`'s solved arrays, assembled on every rank from the rows of the ranks that hold it
    /// (collective over the communicator); nil when the country has no stored solution.
    public func gatherCountry(_ i: Int) throws -> CountryArrays? {
        let na = model.assetPoints, nS = income.count, nJ = world.count, nAll = na * nS * nJ
        let holders = layout.pieces.map { $0.first { $0.country == i } }
        var message: [Double] = []
        if let piece = holders[communicator.rank], let hh = households[i], let dist = distributions[i] {
            message.append(hh.hasSolution && dist.hasSolution ? 1 : 0)
            for array in [hh.consumption, hh.values, hh.assetPolicy, hh.choiceProbabilities] {
                message += piece.rows(of: array, shockCount: nS, assets: na)
            }
            if layout.lead(of: i) == communicator.rank { message += dist.masses }
        }
        let all = try communicator.allGatherV(message)
        // Consumption, values, a′, π in that order, each assembled from the holders' rows in rank order.
        var parts = [[Double]](repeating: [Double](repeating: 0, count: nAll), count: 4)
        var masses: [Double] = []
        var offset = 0
        var solved = true
        for r in 0..<layout.ranks {
            guard let piece = holders[r] else { continue }
            solved = solved && all[offset] == 1
            offset += 1
            let size = nJ * piece.shocks.count * na
            for k in 0..<4 {
                piece.place(all[offset..<(offset + size)], into: &parts[k], shockCount: nS, assets: na)
                offset += size
            }
            if r == layout.lead(of: i) { masses = Array(all[offset..<(offset + na * nS)]); offset += na * nS }
        }
        let arrays = CountryArrays(consumption: parts[0], values: parts[1], assetPolicy: parts[2],
                                   choiceProbabilities: parts[3], masses: masses)
        return solved ? arrays : nil
    }

    /// One line describing the layout and its measured imbalance, for the log.
    public func layoutDescription() -> String {
        layout.description(names: world.names)
    }
}

/// One country's solved household and distribution arrays, whole (`[variety][shock][asset]`, λ `[shock][asset]`).
public struct CountryArrays: Sendable {
    public var consumption: [Double], values: [Double], assetPolicy: [Double], choiceProbabilities: [Double]
    public var masses: [Double]
}

/// The row exchange of one split country over its group's communicator (see `GridBlockExchange`).
final class CommunicatorBlocks: GridBlockExchange {
    let communicator: Communicator
    /// The income states of every member of the group, in rank order.
    let blocks: [Range<Int>]
    let ownedShocks: Range<Int>

    init(communicator: Communicator, blocks: [Range<Int>]) {
        self.communicator = communicator
        self.blocks = blocks
        ownedShocks = blocks[communicator.rank]
    }

    func shareRows(_ buffers: [UnsafeMutablePointer<Double>], rowLength: Int) throws {
        let ranges = blocks.map { ($0.lowerBound * rowLength)..<($0.upperBound * rowLength) }
        for buffer in buffers { try communicator.allGatherBlocks(buffer, blocks: ranges) }
    }

    /// Max over the group; NaN if any member's value is NaN. Non-negative doubles order like their bit
    /// patterns, so the maximum is an exact integer reduction.
    func first(_ key: [Double]) throws -> [Double] {
        let all = try communicator.allGatherV(key)
        return stride(from: 0, to: all.count, by: key.count).map { Array(all[$0..<($0 + key.count)]) }
            .min { $0.lexicographicallyPrecedes($1) }!
    }

    func maximum(_ value: Double) throws -> Double {
        let bits = value.isNaN ? Int64.max : Int64(bitPattern: abs(value).bitPattern)
        let out = try communicator.allReduce([bits])[0]
        return out == Int64.max ? .nan : Double(bitPattern: UInt64(out))
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

