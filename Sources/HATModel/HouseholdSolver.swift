// The household workspace and its policy-function iteration: buffers, results, `solve` and the public
// backward `step`.

/// Preallocated workspace and solver for one country's household problem (HAT-SPEC §2).
///
/// Arrays are laid out `[variety][shock][asset]` (asset fastest, unit stride in the kernels); index
/// `(j * S + s) * N_a + a`. The workspace keeps its last solution (c, v, a′, π), which warm-starts the next
/// solve; the buffers needed only during a solve live in a `HouseholdScratch`, shared between the solvers
/// that run one after another on a rank.
public final class HouseholdSolver {
    public let assetCount: Int, shockCount: Int, varietyCount: Int
    let nState: Int, nAll: Int
    let scratch: HouseholdScratch

    // Double-buffered iterates: consumption, c^−γ (carried to avoid a second power), values. Slot 0 of c and
    // v is this solver's own (where a finished solution always ends up); slot 1 and c^−γ are the scratch's,
    // bound at the start of every solve (another solver may have swapped the spare buffers since).
    var cBuf: [UnsafeMutablePointer<Double>]
    var cpowBuf: [UnsafeMutablePointer<Double>]
    var vBuf: [UnsafeMutablePointer<Double>]
    /// Asset policy a′ of the last recorded Coleman step and its lottery on the grid (the lottery in scratch).
    let aNextPtr: UnsafeMutablePointer<Double>
    var lotteryLow: UnsafeMutablePointer<Int32> { scratch.lotteryLow }
    var lotteryWeight: UnsafeMutablePointer<Double> { scratch.lotteryWeight }
    /// Converged choice probabilities π*.
    let piPtr: UnsafeMutablePointer<Double>
    // [shock][asset] scratch
    let m, expect, einv, phi, phiBar, cash, barBase, barStep: UnsafeMutablePointer<Double>
    // [asset] scratch
    let aTilde, invDiff, gridStep: UnsafeMutablePointer<Double>
    /// [variety] scratch: 1/p_j of the step's prices (a division hoisted out of the expectation's inner loop).
    let invPrice: UnsafeMutablePointer<Double>

    public internal(set) var hasSolution = false

    /// Without `scratch`, the solver gets its own.
    public init(assets: Int, shocks: Int, varieties: Int, scratch: HouseholdScratch? = nil) {
        assetCount = assets; shockCount = shocks; varietyCount = varieties
        nState = assets * shocks
        nAll = nState * varieties
        let sc = scratch ?? HouseholdScratch(assets: assets, shocks: shocks, varieties: varieties)
        precondition(sc.assetCount == assets && sc.shockCount == shocks && sc.varietyCount == varieties)
        self.scratch = sc
        let alloc = allocateZeroed
        cBuf = [alloc(nAll), sc.cSpare]
        cpowBuf = sc.cpow
        vBuf = [alloc(nAll), sc.vSpare]
        aNextPtr = alloc(nAll); piPtr = alloc(nAll)
        m = alloc(nState)
        expect = alloc(nState); einv = alloc(nState); phi = alloc(nState); phiBar = alloc(nState)
        cash = alloc(nState); barBase = alloc(nState); barStep = alloc(nState)
        aTilde = alloc(assets); invDiff = alloc(assets); gridStep = alloc(assets)
        invPrice = alloc(varieties)
    }

    deinit {
        for p in [cBuf[0], vBuf[0], aNextPtr, piPtr, m, expect, einv, phi, phiBar, cash, barBase, barStep,
                  aTilde, invDiff, gridStep, invPrice] { p.deallocate() }
    }

    /// Bind the scratch's current spare buffers as slot 1.
    func bindScratch() {
        cBuf[1] = scratch.cSpare; vBuf[1] = scratch.vSpare
    }

    /// Make slot `c`/`v` the solver's own slot 0, swapping buffers with the scratch when the result landed
    /// in slot 1.
    func keep(c: Int, v: Int) {
        if c == 1 { cBuf.swapAt(0, 1); scratch.cSpare = cBuf[1] }
        if v == 1 { vBuf.swapAt(0, 1); scratch.vSpare = vBuf[1] }
    }

    // MARK: - Results (copies)

    public var consumption: [Double] { Array(UnsafeBufferPointer(start: cBuf[0], count: nAll)) }
    /// The converged consumption buffer itself (valid until the next solve), for in-module readers.
    var consumptionPointer: UnsafeMutablePointer<Double> { cBuf[0] }
    public var values: [Double] { Array(UnsafeBufferPointer(start: vBuf[0], count: nAll)) }
    public var assetPolicy: [Double] { Array(UnsafeBufferPointer(start: aNextPtr, count: nAll)) }
    public var choiceProbabilities: [Double] { Array(UnsafeBufferPointer(start: piPtr, count: nAll)) }

    /// Index of (variety j, shock s, asset a) in the result arrays.
    @inline(__always) public func index(variety j: Int, shock s: Int, asset a: Int) -> Int {
        (j * shockCount + s) * assetCount + a
    }

    /// Forget the stored solution so that the next solve starts cold.
    public func reset() { hasSolution = false }

    // MARK: - Solve

    /// Policy-function iteration exactly as HAT-SPEC §2.2: Coleman steps until max|Δc| < `tolerance`
    /// (at most `maxIterations`), then one final extra step from the last input consumption and the last
    /// output value, and π* = softmax((ψ + v*)/σ).
    ///
    /// With `warmStart` and a stored solution, iteration starts from it instead of the cold guess.
    /// With `blocks`, this solver computes only the income states `blocks.ownedShocks` and exchanges with the
    /// solvers of the other blocks inside every step (see `GridBlockExchange`); results outside the owned
    /// rows are then not computed here.
    @discardableResult
    public func solve(_ problem: HouseholdProblem, tolerance: Double, maxIterations: Int = 500,
                      warmStart: Bool = false, blocks: GridBlockExchange? = nil) throws -> HouseholdSolveStats {
        precondition(problem.assets.count == assetCount && problem.income.count == shockCount
                     && problem.prices.count == varietyCount)
        bindScratch()
        var ci = 0, vi = 0
        if warmStart && hasSolution {
            // c^−γ of the stored policy, with the kernel's own power: bitwise what the last step carried.
            carryMarginalUtility(slot: 0, gamma: problem.gamma)
        } else {
            try initialGuess(problem, c: cBuf[0], cpow: cpowBuf[0], v: vBuf[0])
        }
        hasSolution = false
        var stats = HouseholdSolveStats(iterations: 0, converged: false, policyChange: .infinity)
        for iteration in 1...max(maxIterations, 1) {
            let change = try colemanStep(problem, cIn: ci, vIn: vi, cOut: 1 - ci, vOut: 1 - vi, iteration: iteration,
                                         blocks: blocks, record: false)
            stats.iterations = iteration
            stats.policyChange = change
            if change < tolerance { stats.converged = true; break }
            if iteration == maxIterations { break }
            ci = 1 - ci; vi = 1 - vi
        }
        // Final extra step K(c⁽⁰⁾, v⁽¹⁾): last input consumption, last output value.
        _ = try colemanStep(problem, cIn: ci, vIn: 1 - vi, cOut: 1 - ci, vOut: vi, iteration: stats.iterations + 1,
                            blocks: blocks, record: true)
        keep(c: 1 - ci, v: vi)
        choiceProbabilities(problem, v: vBuf[0], into: piPtr, shocks: blocks?.ownedShocks ?? 0..<shockCount)
        hasSolution = true
        return stats
    }

    /// One Coleman step K (HAT-SPEC §2.1) from outside: (c, v) ↦ (c′, v′, a′), the household's backward
    /// step. `solve` is a loop around the same kernel. Used for MPCs (one step with a transfer τ from the
    /// converged policy), welfare (steps with a resource multiplier) and tests.
    ///
    /// The step runs in this solver's buffers: its stored solution is replaced by the step's output (c′, v′,
    /// a′ and the lotteries; π is that of v′), so `consumption`, `values`, `assetPolicy` and
    /// `choiceProbabilities` read the step afterwards, and a later `solve(warmStart: true)` starts from it.
    /// With `blocks`, only the rows of `blocks.ownedShocks` of the returned arrays are computed here; the
    /// other rows hold whatever the buffers held.
    ///
    /// c^−γ of the input is computed with the kernel's vector power, as every loop step after the first
    /// carries it; the loop's cold guess computes it with the scalar power. So `solve` from the cold guess
    /// and public steps from that guess agree to the last bit for log utility and to about one ulp of
    /// c^−γ otherwise; from any policy the loop produced, they agree bitwise.
    public func step(_ problem: HouseholdProblem, from policy: HouseholdPolicy,
                     blocks: GridBlockExchange? = nil) throws -> HouseholdStep {
        precondition(problem.assets.count == assetCount && problem.income.count == shockCount
                     && problem.prices.count == varietyCount)
        precondition(policy.consumption.count == nAll && policy.values.count == nAll)
        hasSolution = false
        bindScratch()
        let c = cBuf[0], v = vBuf[0]
        policy.consumption.withUnsafeBufferPointer { c.update(from: $0.baseAddress!, count: nAll) }
        policy.values.withUnsafeBufferPointer { v.update(from: $0.baseAddress!, count: nAll) }
        carryMarginalUtility(slot: 0, gamma: problem.gamma)
        let change = try colemanStep(problem, cIn: 0, vIn: 0, cOut: 1, vOut: 1, iteration: 1, blocks: blocks,
                                     record: true)
        keep(c: 1, v: 1)
        choiceProbabilities(problem, v: vBuf[0], into: piPtr, shocks: blocks?.ownedShocks ?? 0..<shockCount)
        hasSolution = true
        return HouseholdStep(policy: HouseholdPolicy(consumption: consumption, values: values),
                             assetPolicy: assetPolicy, change: change)
    }

    /// The converged (or last stepped) policy as a value.
    public var policy: HouseholdPolicy { HouseholdPolicy(consumption: consumption, values: values) }
}
