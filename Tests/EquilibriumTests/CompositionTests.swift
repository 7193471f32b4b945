import Equilibrium
import Foundation
import HATConfig
import HATModel
import Parallel
import Solvers
import TestSupport
import XCTest

/// The composable core from outside: typed messages, evaluators that outlive their world, a root finder
/// stopped and resumed around the real equilibrium residual, and equilibria nested in an outer loop on
/// sub-communicators. Every test holds on any number of ranks; `CLITests.MPICompositionTests` runs this
/// class under `mpirun -np 3` so that the collectives really cross ranks.
final class CompositionTests: XCTestCase {
    let comm = MPIEnvironment.world()

    // MARK: Typed messages

    func outcome(failure: CountryFailure?, buyerPrices: [Double]? = nil) -> CountryOutcome {
        var w = MessageWriter()
        // Built through the message layer itself so that the test needs no internal initialiser.
        w.write(1.25); w.write(-0.0); w.write(Double.nan); w.write(3.5); w.write([0.1, Double.infinity, -2])
        w.write(1e-300); w.write(0.0)
        w.write(17); w.write(true); w.write(4e-7); w.write(120); w.write(false); w.write(Double.ulpOfOne)
        if let failure { w.write(true); failure.pack(into: &w) } else { w.write(false) }
        if let buyerPrices { w.write(true); w.write(buyerPrices) } else { w.write(false) }
        var r = MessageReader(w.bytes)
        return try! CountryOutcome(unpacking: &r)
    }

    func testTypedMessagesRoundTripExactly() throws {
        var fw = MessageWriter()
        fw.write(2); fw.write(3); fw.write(4); fw.write(5); fw.write(6); fw.write(-0.25)
        let failure = try CountryFailure(packed: fw.bytes)
        XCTAssertEqual(failure.kind, .nonMonotoneGrid)
        XCTAssertEqual([failure.asset, failure.shock, failure.variety, failure.iteration], [3, 4, 5, 6])
        for original in [outcome(failure: nil), outcome(failure: failure), outcome(failure: nil, buyerPrices: [1.5, -0.0, 2e-300])] {
            let copy = try CountryOutcome(packed: original.packed)
            XCTAssertEqual(copy.packed, original.packed, "bit-for-bit, NaN and −0 included")
            XCTAssertEqual(copy.aggregates.bondDemand.sign, .minus)
            XCTAssertTrue(copy.aggregates.assets.isNaN)
            XCTAssertEqual(copy.aggregates.imports[1], .infinity)
            XCTAssertEqual(copy.household.iterations, 17)
            XCTAssertEqual(copy.failure, original.failure)
            XCTAssertEqual(copy.buyerPrices?.map(\.bitPattern), original.buyerPrices?.map(\.bitPattern))
        }
        // Malformed messages are errors, not crashes.
        let bytes = outcome(failure: failure).packed
        XCTAssertThrowsError(try CountryOutcome(packed: Array(bytes.dropLast(3))))
        XCTAssertThrowsError(try CountryOutcome(packed: bytes + [0]))
        var bad = MessageWriter(); bad.write(99); for _ in 0..<5 { bad.write(0) }
        XCTAssertThrowsError(try CountryFailure(packed: bad.bytes))
        // Counts that would overflow or allocate without bound are errors too.
        for count in [Int.max, Int.max / 4 + 1, Int.max / 8 + 1, 1 << 40, -1] {
            var w = MessageWriter(); w.write(count); w.write(1.0)
            XCTAssertThrowsError(try [Double](packed: w.bytes))
            XCTAssertThrowsError(try String(packed: w.bytes))
            var r = MessageReader(w.bytes)
            XCTAssertThrowsError(try r.read() as [CountryOutcome])
        }

        // Across ranks: each rank contributes rank + 1 outcomes; everyone receives all in rank order.
        let mine = (0...comm.rank).map { k -> CountryOutcome in
            var o = outcome(failure: k % 2 == 0 ? nil : failure)
            o.household.iterations = 100 * comm.rank + k
            return o
        }
        let all = try comm.allGather(mine)
        XCTAssertEqual(all.count, (1...comm.size).reduce(0, +))
        var expected: [Int] = []
        for r in 0..<comm.size { for k in 0...r { expected.append(100 * r + k) } }
        XCTAssertEqual(all.map(\.household.iterations), expected)
        let root: String = try comm.broadcast(comm.isRoot ? "from the root: ∑ λ" : nil)
        XCTAssertEqual(root, "from the root: ∑ λ")
    }

    // MARK: Failures in a collective driver

    struct ServeFailure: Error, CustomStringConvertible { var description: String }

    /// A `serve` that fails on one rank (the last) ends the loop on every rank with that rank's message —
    /// no rank is left waiting — also when `drive` swallows the error, and also when the failure happens
    /// inside an inner driver on a rank group that does not hold the world root. The communicator stays usable.
    func testServeFailuresReachEveryRank() throws {
        let failing = comm.size - 1
        let driver = CollectiveDriver<Number>(communicator: comm)
        var served = 0
        let serve: (Number) throws -> Double = { n in
            served += 1
            if n.value == 2 && self.comm.rank == failing { throw ServeFailure(description: "rank \(failing) cannot serve 2") }
            return n.value
        }
        XCTAssertThrowsError(try driver.run(serve: serve) { request -> Number in
            var total = 0.0
            for k in 1...5 { total += try request(Number(Double(k))) }
            return Number(total)
        }) { error in
            XCTAssertEqual((error as? CollectiveFailure)?.message, "rank \(failing) cannot serve 2")
            XCTAssertEqual((error as? CollectiveFailure)?.agreed, true)
        }
        XCTAssertEqual(served, 2)
        // A drive that swallows the failure still fails (and does not send more commands).
        served = 0
        XCTAssertThrowsError(try driver.run(serve: serve) { request -> Number in
            for k in 1...5 { _ = try? request(Number(Double(k))) }
            return Number(0)
        })
        XCTAssertEqual(served, 2)

        // Nested: the last rank group's inner driver fails; the outer loop on the world ends everywhere.
        let groups = min(2, comm.size)
        let group = Partition(count: comm.size, parts: groups).part(of: comm.rank)
        let sub = try comm.split(color: group, key: comm.rank)
        let outer = CollectiveDriver<Number>(communicator: comm)
        XCTAssertThrowsError(try outer.run(serve: { step -> Double in
            let inner = CollectiveDriver<Number>(communicator: sub)
            let r: Number = try inner.run(serve: { n -> Double in
                if step.value == 3 && group == groups - 1 && sub.rank == sub.size - 1 {
                    throw ServeFailure(description: "inner failure at step 3")
                }
                return n.value * step.value
            }) { request in Number(try request(Number(1))) }
            return r.value
        }) { request -> Number in
            Number(try (1...4).map { try request(Number(Double($0))) }.reduce(0, +))
        }) { error in
            XCTAssertTrue("\(error)".contains("inner failure at step 3"), "\(error)")
        }
        // Still usable.
        let ok: Number = try driver.run(serve: { $0.value }) { request in Number(try request(Number(7))) }
        XCTAssertEqual(ok.value, 7)
    }

    /// A starting Jacobian from a nearby solve replaces the first finite-difference one: the nearby
    /// equilibrium takes fewer evaluations than one per unknown, and lands on the same prices as a solve
    /// with its own Jacobian.
    func testStartingJacobianFromANearbySolve() throws {
        let config = try ConfigurationLoader.load(path: configPath("three-country.toml"))
        let base = try solveEquilibrium(evaluator: try WorldEvaluator(world: config.world, model: config.model, communicator: comm),
                                        options: config.equilibrium)
        XCTAssertTrue(base.converged)
        /// The world with every trade cost's excess over 1 scaled by `factor`, solved from `from`'s prices.
        func solve(_ factor: Double, from: EquilibriumResult, jacobian: [Double]?) throws -> EquilibriumResult {
            var world = config.world
            world.tradeCosts = world.tradeCosts.map { $0 == 1 ? 1 : 1 + factor * ($0 - 1) }
            var options = config.equilibrium
            options.start.wages = from.prices.wages
            options.start.rate = from.prices.rates[0]
            options.startingJacobian = jacobian
            return try solveEquilibrium(evaluator: try WorldEvaluator(world: world, model: config.model, communicator: comm), options: options)
        }
        let first = try solve(0.9, from: base, jacobian: nil)
        let jacobian = try XCTUnwrap(first.jacobian)
        XCTAssertEqual(jacobian.count, first.unknowns.count * first.unknowns.count)
        let own = try solve(0.899, from: first, jacobian: nil)
        let reused = try solve(0.899, from: first, jacobian: jacobian)
        XCTAssertTrue(first.converged && own.converged && reused.converged)
        XCTAssertLessThan(reused.evaluations, own.evaluations, "no first finite-difference Jacobian (\(first.unknowns.count) unknowns)")
        XCTAssertEqual(reused.prices.rates[0], own.prices.rates[0], accuracy: 1e-8)
        for (a, b) in zip(reused.prices.wages, own.prices.wages) { XCTAssertEqual(a, b, accuracy: 1e-8) }
    }

    // MARK: Evaluators that outlive a world

    func testEvaluatorUpdateKeepsWorkspacesAndWarmStarts() throws {
        // Warm inner solves make the residual depend on the path: tight inner tolerances keep it smooth
        // (docs/CONFIGURATION-GUIDE.md, "Warm starts") but the warm distribution still leaves noise near
        // 1e-8, so the market tolerance is 1e-8 here; the cold comparisons use the same settings.
        let config = try ConfigurationLoader.load(path: configPath("three-country.toml"),
                                                  overrides: ["equilibrium.household_tolerance=1e-12", "equilibrium.tolerance=1e-8"])
        var options = config.equilibrium
        options.evaluation.warmStart = true
        let evaluator = try WorldEvaluator(world: config.world, model: config.model, communicator: comm)
        let solvers = evaluator.owned.map { ObjectIdentifier(evaluator.households[$0]!) }
        let first = try solveEquilibrium(evaluator: evaluator, options: options)
        XCTAssertTrue(first.converged)

        var cheaper = config.world
        cheaper.tradeCosts = cheaper.tradeCosts.map { $0 == 1 ? 1 : 1 + 0.9 * ($0 - 1) }
        try evaluator.update(world: cheaper, model: config.model)
        XCTAssertEqual(evaluator.workspaceBuilds, 1, "same sizes: the workspaces are kept")
        XCTAssertEqual(evaluator.owned.map { ObjectIdentifier(evaluator.households[$0]!) }, solvers)
        XCTAssertEqual(evaluator.world, cheaper)
        // The kept workspaces are warm: the first household solves after the update take fewer Coleman
        // steps than cold ones at the same prices.
        let probe = try evaluator.evaluate(prices: first.prices, options: options.evaluation)
        let coldProbe = try WorldEvaluator(world: cheaper, model: config.model, communicator: comm)
            .evaluate(prices: first.prices, options: options.evaluation)
        for (w, c) in zip(probe.countries, coldProbe.countries) {
            XCTAssertLessThan(w.household.iterations, c.household.iterations)
        }
        options.start.wages = first.prices.wages
        options.start.rate = first.prices.rates[0]
        let warm = try solveEquilibrium(evaluator: evaluator, options: options)

        let fresh = try WorldEvaluator(world: cheaper, model: config.model, communicator: comm)
        var coldOptions = config.equilibrium
        coldOptions.evaluation.warmStart = false
        let cold = try solveEquilibrium(evaluator: fresh, options: coldOptions)
        XCTAssertTrue(warm.converged && cold.converged)
        XCTAssertEqual(warm.prices.rates[0], cold.prices.rates[0], accuracy: 1e-7)
        for (a, b) in zip(warm.prices.wages, cold.prices.wages) { XCTAssertEqual(a, b, accuracy: 1e-7) }
        XCTAssertNotEqual(warm.prices.rates[0], first.prices.rates[0], "the update changed the world")

        // A size change rebuilds the workspaces.
        var bigger = config.model
        bigger.assetPoints += 5
        try evaluator.update(world: cheaper, model: bigger)
        XCTAssertEqual(evaluator.workspaceBuilds, 2)
        XCTAssertEqual(evaluator.households.values.first.map(\.assetCount) ?? bigger.assetPoints, bigger.assetPoints)
    }

    // MARK: A root finder stopped and resumed around the equilibrium residual

    func testEquilibriumRootFinderResumesBitwiseInAFreshEvaluator() throws {
        let config = try ConfigurationLoader.load(path: configPath("three-country.toml"))
        let options = config.equilibrium
        XCTAssertFalse(options.evaluation.warmStart, "cold inner solves: the residual is a function of x alone")
        let m = config.world.count
        func residual(_ evaluator: WorldEvaluator) -> ([Double]) throws -> [Double] {
            { x in
                let out = try evaluator.evaluate(prices: options.closure.prices(from: x, countries: m), options: options.evaluation)
                return options.closure.residuals(out, world: config.world)
            }
        }
        let x0 = options.closure.unknowns(at: options.start, countries: m)
        let finder = HybridRootFinder(tolerance: options.tolerance, maxIterations: 100)
        let whole = try finder.solve(from: x0, residual: residual(try WorldEvaluator(world: config.world, model: config.model, communicator: comm)))
        XCTAssertTrue(whole.converged)
        let stopped = try finder.solve(from: x0, monitor: { $0.iteration >= 3 ? .stop : .proceed },
                                       residual: residual(try WorldEvaluator(world: config.world, model: config.model, communicator: comm)))
        XCTAssertEqual(stopped.reason, .interrupted)
        // Save as numbers (what a checkpoint stores), restore in a fresh finder and a fresh evaluator.
        let saved = try XCTUnwrap(stopped.state).values
        let restored = try XCTUnwrap(HybridState(values: saved))
        let resumed = try HybridRootFinder(tolerance: options.tolerance, maxIterations: 100)
            .resume(from: restored, residual: residual(try WorldEvaluator(world: config.world, model: config.model, communicator: comm)))
        XCTAssertEqual(resumed.x, whole.x)
        XCTAssertEqual(resumed.residual, whole.residual)
        XCTAssertEqual(resumed.evaluations, whole.evaluations)
        XCTAssertEqual(resumed.iterations, whole.iterations)
    }

    // MARK: Equilibria nested in an outer loop on sub-communicators

    /// The outer loop (a continuation over trade costs, as calibration and counterfactuals run) is driven by
    /// the world root; in every outer step each rank group solves the equilibrium on its own
    /// sub-communicator, warm-starting from its previous step with the same evaluator. Groups of different
    /// sizes must agree to the bit; the path must agree with cold solves.
    func testEquilibriaNestedOnSubCommunicatorsWithWarmWorkspaces() throws {
        let config = try ConfigurationLoader.load(path: configPath("three-country.toml"),
                                                  overrides: ["equilibrium.household_tolerance=1e-12", "equilibrium.tolerance=1e-8"])
        let groups = min(2, comm.size)
        let group = Partition(count: comm.size, parts: groups).part(of: comm.rank)
        let sub = try comm.split(color: group, key: comm.rank)
        let evaluator = try WorldEvaluator(world: config.world, model: config.model, communicator: sub)
        var options = config.equilibrium
        options.evaluation.warmStart = true
        let scales = [1.0, 0.95, 0.9]

        struct Step: Packable {
            var scale: Double
            func pack(into m: inout MessageWriter) { m.write(scale) }
            init(scale: Double) { self.scale = scale }
            init(unpacking m: inout MessageReader) throws { scale = try m.read() }
        }
        struct Path: Packable {
            var rates: [Double]
            func pack(into m: inout MessageWriter) { m.write(rates) }
            init(rates: [Double]) { self.rates = rates }
            init(unpacking m: inout MessageReader) throws { rates = try m.read() }
        }
        var groupRates: [[Double]] = []       // per outer step: R of every group (gathered over the world)
        var lastWages: [Double]? = nil, lastRate = options.start.rate
        let outer = CollectiveDriver<Step>(communicator: comm)
        let path: Path = try outer.run(serve: { step -> [Double] in
            var world = config.world
            world.tradeCosts = world.tradeCosts.map { $0 == 1 ? 1 : 1 + step.scale * ($0 - 1) }
            try evaluator.update(world: world, model: config.model)
            var o = options
            o.start.wages = lastWages
            o.start.rate = lastRate
            let result = try solveEquilibrium(evaluator: evaluator, options: o)   // inner driver on `sub`
            XCTAssertTrue(result.converged, "\(result.reason) \(result.reasonDetail)")
            lastWages = result.prices.wages
            lastRate = result.prices.rates[0]
            // One entry per group: its root contributes, the others send nothing.
            let rates = try self.comm.allGather(sub.isRoot ? [Number(result.prices.rates[0])] : []).map(\.value)
            XCTAssertEqual(rates.count, groups)
            groupRates.append(rates)
            return rates
        }) { request in
            Path(rates: try scales.map { try request(Step(scale: $0))[0] })
        }
        XCTAssertEqual(path.rates.count, scales.count)
        XCTAssertEqual(evaluator.workspaceBuilds, 1, "the evaluator's workspaces served the whole path")
        for rates in groupRates { XCTAssertEqual(Set(rates.map(\.bitPattern)).count, 1, "groups agree to the bit: \(rates)") }
        XCTAssertEqual(groupRates.map { $0[0] }, path.rates)

        // Against cold solves on the whole communicator.
        for (scale, rate) in zip(scales, path.rates) {
            var world = config.world
            world.tradeCosts = world.tradeCosts.map { $0 == 1 ? 1 : 1 + scale * ($0 - 1) }
            let cold = try solveEquilibrium(evaluator: try WorldEvaluator(world: world, model: config.model, communicator: comm),
                                            options: config.equilibrium)
            XCTAssertEqual(rate, cold.prices.rates[0], accuracy: 1e-7)
        }
    }
}

/// One number as a message.
struct Number: Packable {
    var value: Double
    init(_ value: Double) { self.value = value }
    func pack(into message: inout MessageWriter) { message.write(value) }
    init(unpacking message: inout MessageReader) throws { value = try message.read() }
}
