import Foundation
import HATModel
import Solvers
import XCTest

/// The seams of issue 7, exercised from outside their target: the household's backward step and its block
/// phases, the distribution's forward step, expectations, and a resumable root finder.
final class SeamTests: XCTestCase {
    let income = IncomeProcess(.baseline)

    func problem(gamma: Double, prices: [Double] = [1, 1.6, 2.1], psi: Double = 0.725) -> HouseholdProblem {
        HouseholdProblem(assets: assetGrid(points: 60, borrowingLimit: 0.5, top: 8, tfp: 1), income: income,
                         gamma: gamma, beta: 0.92, sigma: 0.3, home: 0,
                         homeQuality: income.logPersistent.map { psi * $0 }, prices: prices, wage: 1, rate: 1.01)
    }

    /// The cold guess of HAT-SPEC §2.2, written out here: stay at the borrowing limit, v = −1/(1 − β).
    func coldGuess(_ pr: HouseholdProblem) -> HouseholdPolicy {
        let na = pr.assets.count, nS = income.count
        var c = [Double](repeating: 0, count: pr.varieties * nS * na)
        for j in 0..<pr.varieties {
            for s in 0..<nS {
                let c0 = ((pr.rate - 1) * pr.assets[0] + pr.wage * income.z[s]) / pr.prices[j]
                for a in 0..<na { c[(j * nS + s) * na + a] = c0 }
            }
        }
        return HouseholdPolicy(consumption: c, values: [Double](repeating: -1 / (1 - pr.beta), count: c.count))
    }

    /// `solve` is a loop around `step`: with one loop iteration, solve = K(g, v⁽¹⁾) where v⁽¹⁾ = K(g, v₀)
    /// (the final extra step of §2.2). Log utility carries c⁻¹ exactly, so the two agree to the bit.
    func testSolveIsALoopAroundTheStep() throws {
        let pr = problem(gamma: 1)
        let hh = HouseholdSolver(assets: 60, shocks: income.count, varieties: 3)
        try hh.solve(pr, tolerance: 0, maxIterations: 1)
        let looped = hh.policy

        let stepper = HouseholdSolver(assets: 60, shocks: income.count, varieties: 3)
        let g = coldGuess(pr)
        let first = try stepper.step(pr, from: g)
        let second = try stepper.step(pr, from: HouseholdPolicy(consumption: g.consumption, values: first.policy.values))
        XCTAssertEqual(second.policy.consumption, looped.consumption)
        XCTAssertEqual(second.policy.values, looped.values)
        XCTAssertEqual(second.assetPolicy, hh.assetPolicy)
        XCTAssertEqual(stepper.choiceProbabilities, hh.choiceProbabilities)
    }

    /// One Coleman step from a converged solve's policy is (to the solve's tolerance) its fixed point; a step
    /// with a transfer raises consumption in every state (the MPC of HAT-SPEC §6.3 is positive).
    func testOneStepFromTheFixedPoint() throws {
        let pr = problem(gamma: 1.45)
        let hh = HouseholdSolver(assets: 60, shocks: income.count, varieties: 3)
        let stats = try hh.solve(pr, tolerance: 1e-13, maxIterations: 5000)
        XCTAssertTrue(stats.converged)
        let star = hh.policy
        let step = try hh.step(pr, from: star)
        XCTAssertLessThan(step.change, 1e-12)
        // Values converge only at rate β (the loop stops on consumption): a step contracts their change by β.
        let d1 = normInf(zip(step.policy.values, star.values).map { $0 - $1 })
        let again = try hh.step(pr, from: step.policy)
        let d2 = normInf(zip(again.policy.values, step.policy.values).map { $0 - $1 })
        XCTAssertLessThan(d1, 1e-3)
        XCTAssertLessThanOrEqual(d2, 0.92 * d1 * (1 + 1e-6) + 1e-14)
        XCTAssertGreaterThan(d2, 0.5 * d1, "a contraction by β, not a jump to the fixed point")
        var withTransfer = pr
        withTransfer.transfer = 0.01
        let richer = try hh.step(withTransfer, from: star)
        for (c1, c0) in zip(richer.policy.consumption, star.consumption) { XCTAssertGreaterThan(c1, c0) }
        // Stepping from a far-away policy is not a fixed point: the test can fail.
        let cold = try hh.step(pr, from: coldGuess(pr))
        XCTAssertGreaterThan(cold.change, 1e-3)
    }

    /// A grid split into blocks of income states, each block a solver on its own thread exchanging rows
    /// between the phases, gives bitwise the unsplit household solve and distribution on its rows.
    func testBlocksOfIncomeStatesReproduceTheWholeSolve() throws {
        for gamma in [1.0, 1.45] {
            let pr = problem(gamma: gamma)
            let whole = HouseholdSolver(assets: 60, shocks: income.count, varieties: 3)
            let wholeStats = try whole.solve(pr, tolerance: 1e-10)
            let wholeDist = StationaryDistribution(assets: 60, shocks: income.count)
            try wholeDist.solve(household: whole, transition: income.transition, tolerance: 1e-12)

            for splits in [[0, 4, 10], [0, 1, 7, 10]] {
                let shared = ThreadGrid(blocks: splits.count - 1, states: 60 * income.count)
                let box = ResultBox(count: splits.count - 1)
                let group = DispatchGroup()
                for b in 0..<(splits.count - 1) {
                    group.enter()
                    let thread = Thread {
                        defer { group.leave() }
                        do {
                            let block = ThreadBlock(grid: shared, index: b, shocks: splits[b]..<splits[b + 1])
                            let hh = HouseholdSolver(assets: 60, shocks: self.income.count, varieties: 3)
                            let stats = try hh.solve(pr, tolerance: 1e-10, blocks: block)
                            let dist = StationaryDistribution(assets: 60, shocks: self.income.count)
                            try dist.solve(household: hh, transition: self.income.transition, tolerance: 1e-12, blocks: block)
                            box.set(b, (hh, dist, stats))
                        } catch {
                            box.fail(error)
                        }
                    }
                    thread.start()
                }
                group.wait()
                XCTAssertTrue(box.errors.isEmpty, "\(box.errors)")
                for b in 0..<(splits.count - 1) {
                    guard let (hh, dist, stats) = box.results[b] else { XCTFail("block \(b) missing"); continue }
                    XCTAssertEqual(stats.iterations, wholeStats.iterations)
                    XCTAssertEqual(stats.policyChange, wholeStats.policyChange)
                    XCTAssertEqual(dist.masses, wholeDist.masses, "every block holds the whole λ")
                    let c = hh.consumption, v = hh.values, pi = hh.choiceProbabilities, a1 = hh.assetPolicy
                    let (c0, v0, pi0, a0) = (whole.consumption, whole.values, whole.choiceProbabilities, whole.assetPolicy)
                    for j in 0..<3 {
                        for s in splits[b]..<splits[b + 1] {
                            let r = hh.index(variety: j, shock: s, asset: 0)..<hh.index(variety: j, shock: s, asset: 59) + 1
                            XCTAssertEqual(Array(c[r]), Array(c0[r]))
                            XCTAssertEqual(Array(v[r]), Array(v0[r]))
                            XCTAssertEqual(Array(pi[r]), Array(pi0[r]))
                            XCTAssertEqual(Array(a1[r]), Array(a0[r]))
                        }
                    }
                }
            }
        }
    }

    /// Workspaces restored from saved policies and masses warm-start exactly as the in-memory ones do (what a
    /// checkpoint needs); a push-forward over rows whose bands were not prepared is refused.
    func testLoadedWorkspacesWarmStartExactly() throws {
        let pr = problem(gamma: 1.45)
        var moved = pr
        moved.wage *= 1.01
        let hh = HouseholdSolver(assets: 60, shocks: income.count, varieties: 3)
        try hh.solve(pr, tolerance: 1e-10)
        let dist = StationaryDistribution(assets: 60, shocks: income.count)
        try dist.solve(household: hh, transition: income.transition, tolerance: 1e-12)
        let saved = (hh.policy, dist.masses)
        let inMemory = try hh.solve(moved, tolerance: 1e-10, warmStart: true)
        try dist.solve(household: hh, transition: income.transition, tolerance: 1e-12, warmStart: true)
        let (c1, m1) = (hh.consumption, dist.masses)

        let restored = HouseholdSolver(assets: 60, shocks: income.count, varieties: 3)
        restored.load(saved.0)
        let restoredDist = StationaryDistribution(assets: 60, shocks: income.count)
        restoredDist.load(masses: saved.1)
        let fromLoad = try restored.solve(moved, tolerance: 1e-10, warmStart: true)
        try restoredDist.solve(household: restored, transition: income.transition, tolerance: 1e-12, warmStart: true)
        XCTAssertEqual(fromLoad.iterations, inMemory.iterations)
        XCTAssertEqual(restored.consumption, c1)
        XCTAssertEqual(restoredDist.masses, m1)

        // A warm start at another γ is still a correct solve (the carried c^−γ is recomputed).
        var otherGamma = moved
        otherGamma.gamma = 2
        try restored.solve(otherGamma, tolerance: 1e-10, warmStart: true)
        let cold = HouseholdSolver(assets: 60, shocks: income.count, varieties: 3)
        try cold.solve(otherGamma, tolerance: 1e-10)
        XCTAssertLessThan(normInf(zip(restored.consumption, cold.consumption).map { $0 - $1 }), 1e-8)

        let partial = StationaryDistribution(assets: 60, shocks: income.count)
        partial.prepare(household: hh, shocks: 0..<3)
        XCTAssertThrowsError(try partial.pushForward(transition: income.transition)) {
            XCTAssertEqual($0 as? DistributionError, .notPrepared(rows: 0..<10, prepared: 0..<3))
        }
    }

    /// The generic expectations agree with the country aggregates computed in one fused pass.
    func testExpectationsMatchTheAggregates() throws {
        let pr = problem(gamma: 1.45)
        let hh = HouseholdSolver(assets: 60, shocks: income.count, varieties: 3)
        try hh.solve(pr, tolerance: 1e-10)
        let dist = StationaryDistribution(assets: 60, shocks: income.count)
        try dist.solve(household: hh, transition: income.transition, tolerance: 1e-12)
        let agg = CountryAggregates(problem: pr, household: hh, distribution: dist, labor: 2)
        let z = (0..<income.count).flatMap { s in [Double](repeating: income.z[s], count: 60) }
        XCTAssertEqual(2 * dist.expectation(of: z), agg.efficiencyUnits, accuracy: 1e-14)
        XCTAssertEqual(2 * dist.expectation(of: (0..<income.count).flatMap { _ in pr.assets }), agg.assets, accuracy: 1e-14)
        XCTAssertEqual(2 * dist.expectation(ofChoices: hh.assetPolicy, household: hh), agg.bondDemand, accuracy: 1e-13)
        let c = hh.consumption
        for j in 0..<3 {
            // Spending on variety j alone: p_j c_j where j is chosen, 0 elsewhere.
            let x = (0..<c.count).map { k in k / (60 * income.count) == j ? pr.prices[j] * c[k] : 0 }
            XCTAssertEqual(2 * dist.expectation(ofChoices: x, household: hh), agg.imports[j], accuracy: 1e-13)
        }
        XCTAssertEqual(dist.expectation(of: [Double](repeating: 1, count: 60 * income.count)), 1, accuracy: 1e-10)
    }

    // MARK: - Root finder

    static func powell(_ x: [Double]) -> [Double] { [1e4 * x[0] * x[1] - 1, exp(-x[0]) + exp(-x[1]) - 1.0001] }

    /// A solve stopped by its monitor mid-way, its state saved as numbers and as JSON, and resumed by a fresh
    /// finder, ends bitwise where the uninterrupted solve ends, with the same counts.
    func testRootFinderStateRoundTripFinishesIdentically() throws {
        let finder = HybridRootFinder(tolerance: 1e-13, maxIterations: 200)
        let whole = try finder.solve(from: [0, 1], residual: Self.powell)
        XCTAssertTrue(whole.converged)
        XCTAssertGreaterThan(whole.iterations, 6)

        for stopAt in [1, 3, whole.iterations - 1] {
            let stopped = try finder.solve(from: [0, 1], monitor: { $0.iteration >= stopAt ? .stop : .proceed },
                                           residual: Self.powell)
            XCTAssertEqual(stopped.reason, .interrupted)
            XCTAssertEqual(stopped.iterations, stopAt)
            let state = try XCTUnwrap(stopped.state)

            let fromValues = try XCTUnwrap(HybridState(values: state.values))
            XCTAssertEqual(fromValues, state)
            let encoder = JSONEncoder()
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            let fromJSON = try decoder.decode(HybridState.self, from: try encoder.encode(state))
            XCTAssertEqual(fromJSON, state)

            for restored in [fromValues, fromJSON] {
                let fresh = HybridRootFinder(tolerance: 1e-13, maxIterations: 200)
                let resumed = try fresh.resume(from: restored, residual: Self.powell)
                XCTAssertEqual(resumed.reason, whole.reason)
                XCTAssertEqual(resumed.x, whole.x)
                XCTAssertEqual(resumed.residual, whole.residual)
                XCTAssertEqual(resumed.iterations, whole.iterations)
                XCTAssertEqual(resumed.evaluations, whole.evaluations)
                XCTAssertEqual(resumed.jacobianEvaluations, whole.jacobianEvaluations)
            }
        }
        XCTAssertNil(HybridState(values: [2, 2, 1]), "malformed state values are refused")
    }

    static func noisy(_ x: [Double]) -> [Double] {
        func noise(_ x: Double) -> Double {          // deterministic pseudo-noise of amplitude 1e-8
            let h = sin(x * 1e9) * 43758.5453
            return (h - h.rounded(.down) - 0.5) * 2e-8
        }
        return [x[0] * x[0] - 1 + noise(x[0] + 3 * x[1]), x[1] - 0.5 * x[0] + noise(2 * x[0] - x[1])]
    }

    static func rosenbrock(_ x: [Double]) -> [Double] { [10 * (x[1] - x[0] * x[0]), 1 - x[0]] }

    /// A stop at every monitor call (iteration lines and notes such as the fresh-Jacobian retry) resumes to
    /// the uninterrupted result; a stop never waits for a Jacobian; a run capped by iterations resumes with
    /// a larger cap to the uncapped result.
    func testStopAnywhereAndResumeAfterBudgets() throws {
        for (x0, residual, tolerance) in [([0.0, 1.0], Self.powell, 1e-13), ([-1.2, 1.0], Self.rosenbrock, 1e-12),
                                          ([2.0, 1.0], Self.noisy, 1e-14)] {
            let finder = HybridRootFinder(tolerance: tolerance, maxIterations: 300)
            var calls = 0, notes = 0
            let whole = try finder.solve(from: x0, monitor: { calls += 1; notes += $0.note == nil ? 0 : 1; return .proceed },
                                         residual: residual)
            for k in 1...calls {
                var seen = 0, evaluationsAtStop = -1
                let stopped = try finder.solve(from: x0, monitor: { rec in
                    seen += 1
                    if seen == k { evaluationsAtStop = rec.evaluations; return .stop }
                    return .proceed
                }, residual: residual)
                guard stopped.reason == .interrupted else {
                    XCTAssertEqual(stopped.reason, whole.reason, "stop at call \(k): \(stopped.reason)")  // the last call ends the solve anyway
                    continue
                }
                XCTAssertEqual(stopped.evaluations, evaluationsAtStop, "call \(k): no evaluation after the stop request")
                let resumed = try finder.resume(from: XCTUnwrap(HybridState(values: stopped.state!.values)), residual: residual)
                XCTAssertEqual(resumed.x, whole.x, "call \(k)")
                XCTAssertEqual(resumed.reason, whole.reason)
                XCTAssertEqual(resumed.evaluations, whole.evaluations)
                XCTAssertEqual(resumed.noise, whole.noise)
            }
            if residual([2.0, 1.0]) == Self.noisy([2.0, 1.0]) { XCTAssertGreaterThan(notes, 0, "the noisy problem exercises the notes") }
            for cap in [1, 2, 5] where cap < whole.iterations {
                let capped = try HybridRootFinder(tolerance: tolerance, maxIterations: cap).solve(from: x0, residual: residual)
                XCTAssertEqual(capped.reason, .maxIterations)
                let resumed = try finder.resume(from: XCTUnwrap(capped.state), residual: residual)
                XCTAssertEqual(resumed.x, whole.x, "cap \(cap)")
                XCTAssertEqual(resumed.evaluations, whole.evaluations, "cap \(cap)")
            }
        }
        // Stopping at iteration 0 costs only F(x₀): the first Jacobian waits for the resume.
        let early = try HybridRootFinder(tolerance: 1e-13).solve(from: [0, 1], monitor: { _ in .stop }, residual: Self.powell)
        XCTAssertEqual(early.reason, .interrupted)
        XCTAssertEqual(early.evaluations, 1)
    }

    /// Saved states are checked: corrupt numbers or JSON are refused, never a crash; plain JSON works.
    func testStateValidation() throws {
        let stopped = try HybridRootFinder(tolerance: 1e-13).solve(from: [0, 1], monitor: { $0.iteration >= 2 ? .stop : .proceed },
                                                                  residual: Self.powell)
        let state = try XCTUnwrap(stopped.state)
        let json = try JSONEncoder().encode(state)               // no special float strategy needed
        XCTAssertEqual(try JSONDecoder().decode(HybridState.self, from: json), state)
        var v = state.values
        XCTAssertNil(HybridState(values: [1e10, 1e10] + Array(v.dropFirst(2))), "sizes that overflow")
        XCTAssertNil(HybridState(values: Array(v.dropLast())))
        XCTAssertNil(HybridState(values: v + [0]))
        v[2 + 2 + 2 + 4] = 0                                      // a zero scaling entry
        XCTAssertNil(HybridState(values: v))
        var broken = state
        broken.diag = [1]
        XCTAssertThrowsError(try JSONDecoder().decode(HybridState.self, from: JSONEncoder().encode(broken)))
        XCTAssertThrowsError(try HybridRootFinder(tolerance: 1e-13).resume(from: broken, residual: Self.powell))
    }

    /// A Jacobian supplied from outside, assembled column by column in reverse order (as rank groups would
    /// deliver them), gives bitwise the built-in solve; a wrong Jacobian changes the path.
    func testInjectedJacobian() throws {
        let finder = HybridRootFinder(tolerance: 1e-13, maxIterations: 200)
        let builtin = try finder.solve(from: [0, 1], residual: Self.powell)
        var calls = 0
        let columns: JacobianFunction = { x, f in
            calls += 1
            var jac = [Double](repeating: 0, count: 4), used = 0
            for j in [1, 0] {
                let (column, n) = finder.differenceColumn(j, at: x, residual: f, evaluate: Self.powell)
                used += n
                for i in 0..<2 { jac[i * 2 + j] = column[i] }
            }
            return (jac, used)
        }
        let injected = try finder.solve(from: [0, 1], jacobian: columns, residual: Self.powell)
        XCTAssertEqual(injected.x, builtin.x)
        XCTAssertEqual(injected.evaluations, builtin.evaluations)
        XCTAssertEqual(calls, builtin.jacobianEvaluations)
        let analytic: JacobianFunction = { x, _ in ([1e4 * x[1], 1e4 * x[0], -exp(-x[0]), -exp(-x[1])], 0) }
        let exact = try finder.solve(from: [0, 1], jacobian: analytic, residual: Self.powell)
        XCTAssertTrue(exact.converged)
        XCTAssertLessThan(exact.evaluations, builtin.evaluations, "no residual evaluations spent on columns")
    }
}

/// What the block threads hand back.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    var results: [(HouseholdSolver, StationaryDistribution, HouseholdSolveStats)?]
    var errors: [Error] = []
    init(count: Int) { results = .init(repeating: nil, count: count) }
    func set(_ b: Int, _ r: (HouseholdSolver, StationaryDistribution, HouseholdSolveStats)) { lock.lock(); results[b] = r; lock.unlock() }
    func fail(_ e: Error) { lock.lock(); errors.append(e); lock.unlock() }
}

/// Blocks of one grid on threads: rows are exchanged through shared buffers between two barriers.
final class ThreadGrid: @unchecked Sendable {
    let blocks: Int
    let states: Int
    var barrier = pthread_barrier_t()
    var rows: [UnsafeMutablePointer<Double>] = []
    var maxima: [Double]
    var keys: [[Double]]

    init(blocks: Int, states: Int) {
        self.blocks = blocks; self.states = states
        maxima = [Double](repeating: 0, count: blocks)
        keys = [[Double]](repeating: [], count: blocks)
        pthread_barrier_init(&barrier, nil, UInt32(blocks))
    }

    deinit {
        pthread_barrier_destroy(&barrier)
        for p in rows { p.deallocate() }
    }

    func wait() { pthread_barrier_wait(&barrier) }

    func buffer(_ k: Int) -> UnsafeMutablePointer<Double> {
        // Created by block 0 before the first barrier of the exchange that needs it.
        while rows.count <= k {
            let p = UnsafeMutablePointer<Double>.allocate(capacity: states)
            p.initialize(repeating: .nan, count: states)
            rows.append(p)
        }
        return rows[k]
    }
}

final class ThreadBlock: GridBlockExchange {
    let grid: ThreadGrid
    let index: Int
    let ownedShocks: Range<Int>

    init(grid: ThreadGrid, index: Int, shocks: Range<Int>) { self.grid = grid; self.index = index; ownedShocks = shocks }

    func shareRows(_ buffers: [UnsafeMutablePointer<Double>], rowLength: Int) throws {
        if index == 0 { for k in buffers.indices { _ = grid.buffer(k) } }
        grid.wait()
        let owned = (ownedShocks.lowerBound * rowLength)..<(ownedShocks.upperBound * rowLength)
        for (k, b) in buffers.enumerated() { for i in owned { grid.rows[k][i] = b[i] } }
        grid.wait()
        for (k, b) in buffers.enumerated() {
            for i in 0..<(grid.states) where !owned.contains(i) { b[i] = grid.rows[k][i] }
        }
        grid.wait()
    }

    func first(_ key: [Double]) throws -> [Double] {
        grid.keys[index] = key
        grid.wait()
        let result = grid.keys.min { $0.lexicographicallyPrecedes($1) }!
        grid.wait()
        return result
    }

    func maximum(_ value: Double) throws -> Double {
        grid.maxima[index] = value
        grid.wait()
        let result = grid.maxima.contains { $0.isNaN } ? .nan : grid.maxima.max()!
        grid.wait()
        return result
    }
}
