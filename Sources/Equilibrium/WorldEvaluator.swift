// The world evaluator: its state, updates of the world and model, warm-start anchors, and the
// evaluation of one country and of the whole world at given prices.
import Foundation
import HATModel
import Parallel

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
    public internal(set) var layout: WorkLayout
    /// The countries this rank reports (leads); whole-country layouts: the countries it owns.
    public var owned: Range<Int> { layout.led(by: communicator.rank) }
    /// This rank's pieces, in country order.
    public var pieces: [WorkLayout.Piece] { layout.pieces[communicator.rank] }

    public internal(set) var households: [Int: HouseholdSolver] = [:]
    public internal(set) var distributions: [Int: StationaryDistribution] = [:]
    /// The buffers the household solves of this rank share (see `HouseholdScratch`).
    var scratch: HouseholdScratch?
    /// Row exchanges of the split countries this rank holds a block of.
    var exchanges: [Int: CommunicatorBlocks] = [:]
    /// Evaluations performed so far.
    public private(set) var evaluations = 0
    /// Every country's spending on every source in the last evaluation where none failed, on every rank
    /// (the warm start of a supply side whose prices depend on spending).
    var lastSpending: [Int: [Double]] = [:]
    /// Times the workspaces were (re)built: once at creation, again when an update changed a size or the
    /// load balancing moved countries.
    public internal(set) var workspaceBuilds = 0
    /// Measured cost of every country in the last evaluation: (household iterations + 1) × N_a × S × M.
    public private(set) var costs: [Double]
    /// Whether the measured costs were looked at (after the first evaluation with `balancing`).
    public internal(set) var rebalanced = false
    /// Whether that changed the layout (the workspaces moved).
    public internal(set) var relaidOut = false

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
    /// holds only its rows (`gatherCountry` assembles a split country).
    public func solution(of country: Int) -> CountrySolution {
        precondition(layout.group(of: country).count == 1, "solution(of:) of a split country")
        return CountrySolution(policy: households[country]!.policy, masses: distributions[country]!.masses)
    }

    /// Forget every stored solution: the next evaluation starts cold even with `warmStart`.
    public func resetWorkspaces() {
        lastSpending = [:]
        for hh in households.values { hh.reset() }
        for d in distributions.values { d.reset() }
    }

    /// Solve one country, or this rank's block of it, at the given prices (collective over the country's
    /// group when it is split). When the supply side's prices depend on spending, the country's buyer prices
    /// and its households' spending are solved together first (`solveCountryWithComposites`).
    public func solveCountry(_ i: Int, prices: Prices, options: EvaluationOptions) -> CountryOutcome {
        if world.supply.spendingElasticity > 0 { return solveCountryWithComposites(i, prices: prices, options: options) }
        let problem = world.householdProblem(country: i, model: model, income: income, prices: prices)
        return solveHouseholds(i, problem: problem, options: options, loadAnchor: true)
    }

    /// The households, distribution and aggregates of country i (or this rank's block of it) for `problem`.
    func solveHouseholds(_ i: Int, problem: HouseholdProblem, options: EvaluationOptions,
                         loadAnchor: Bool) -> CountryOutcome {
        let hh = households[i]!, dist = distributions[i]!
        let blocks = exchanges[i]
        if loadAnchor, options.warmStart, let start = anchor[i] {
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
            return .failed(varieties: world.count,
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
            if world.supply.spendingElasticity > 0 {
                for (i, c) in countries.enumerated() { lastSpending[i] = c.aggregates.imports }
            }
            if balancing && !rebalanced { planRebalance() }
        }
        return WorldOutcome(prices: prices, countries: countries)
    }

    /// A better layout found from the measured costs, applied at the start of the next evaluation (so the
    /// workspaces that produced the last outcome stay where they are, whole, until they are solved again).
    var pendingLayout: WorkLayout?
}
