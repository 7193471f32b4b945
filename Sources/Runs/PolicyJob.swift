import Analysis
import Equilibrium
import Foundation
import HATConfig
import HATModel
import Output
import Parallel
import Storage

/// `hat policy`: the uniform import tariff of one country that maximises a social welfare function of its
/// households' equivalent variation, for one rebate scheme of the revenue. Each candidate tariff is a
/// counterfactual equilibrium (world R, β fixed at the baseline's, the revenue rebated by the scheme) and
/// the EV of every state. A grid of candidates runs on rank groups; then, per objective, Brent's method
/// refines the best grid point within its neighbours, on all ranks. Every finished candidate goes into
/// `policy-candidates.json`, from which `--resume` continues (the candidates asked for are the same, so a
/// resumed run ends with the same numbers).
public struct PolicyJob {
    public struct Request {
        public var baseline: String
        /// The tariff-levying country (default: [analysis] country, else the last country).
        public var country: String?
        public var scheme = RebateScheme.perCapita
        public var objectives: [PolicyObjective] = [.utilitarian]
        public var lower = 0.0, upper = 0.6
        /// Grid points on [lower, upper] (both ends included).
        public var gridPoints = 7
        /// Rank groups for the grid (each evaluates its share of the candidates).
        public var groups = 1
        public var evMethod = EquivalentVariation.Method.converged
        /// The optimum's bracket in t.
        public var tolerance = 1e-4
        public var resume = false
        public var outputFolderGiven = false

        public init(baseline: String) { self.baseline = baseline }

        /// The checks that need no configuration (`ConfigError` naming the option).
        public func check(ranks: Int? = nil) throws {
            func bad(_ option: String, _ problem: String) -> ConfigError { ConfigError(file: option, key: "", problem: problem) }
            guard lower.isFinite, upper.isFinite, lower >= 0, upper < 10, lower < upper else {
                throw bad("--range", "must be LO:HI with 0 <= LO < HI < 10 (got \(lower):\(upper))")
            }
            guard (3...101).contains(gridPoints) else { throw bad("--grid", "must be 3 to 101 points (got \(gridPoints))") }
            guard groups >= 1 else { throw bad("--groups", "must be at least 1 (got \(groups))") }
            if let ranks, groups > ranks { throw bad("--groups", "\(groups) groups need at least as many ranks (running on \(ranks))") }
            guard tolerance > 0, tolerance.isFinite, tolerance < (upper - lower) / 2 else {
                throw bad("--tolerance", "must be a number in (0, (HI - LO)/2) (got \(tolerance))")
            }
            guard !objectives.isEmpty else { throw bad("--objective", "give at least one objective") }
        }
    }

    public static let outputs = ["policy.h5", "policy.json"]
    public static let checkpointName = "policy-candidates.json"

    public let loaded: LoadedConfiguration
    public let request: Request

    public init(loaded: LoadedConfiguration, request: Request) {
        self.loaded = loaded; self.request = request
    }

    /// One evaluated tariff.
    struct Candidate: Packable {
        var tariff: Double
        var converged: Bool
        /// W of every objective in `PolicyObjective.all`'s order.
        var welfare: [Double]
        var evMean: Double
        var evQuintiles: [Double]
        var multipliers: [Double]
        var rate: Double
        var wages: [Double]
        var transfers: [Double]
        var evaluations: Int
        /// States whose EV did not converge (no root of V^x = ΔV bracketed: with R a + w z < 0 there may be
        /// none); −1 when the equilibrium or the analysis itself failed.
        var unconvergedStates: Int

        init(tariff: Double, converged: Bool, welfare: [Double], evMean: Double, evQuintiles: [Double], multipliers: [Double],
             rate: Double, wages: [Double], transfers: [Double], evaluations: Int, unconvergedStates: Int) {
            self.tariff = tariff; self.converged = converged; self.welfare = welfare; self.evMean = evMean
            self.evQuintiles = evQuintiles; self.multipliers = multipliers; self.rate = rate; self.wages = wages
            self.transfers = transfers; self.evaluations = evaluations; self.unconvergedStates = unconvergedStates
        }
        /// A candidate whose equilibrium or analysis failed: no welfare.
        static func failed(_ t: Double, rate: Double, wages: [Double], transfers: [Double], evaluations: Int) -> Candidate {
            Candidate(tariff: t, converged: false, welfare: PolicyObjective.all.map { _ in .nan }, evMean: .nan, evQuintiles: [],
                      multipliers: [], rate: rate, wages: wages, transfers: transfers, evaluations: evaluations, unconvergedStates: -1)
        }
        func pack(into m: inout MessageWriter) {
            m.write(tariff); m.write(converged); m.write(welfare); m.write(evMean); m.write(evQuintiles); m.write(multipliers)
            m.write(rate); m.write(wages); m.write(transfers); m.write(evaluations); m.write(unconvergedStates)
        }
        init(unpacking m: inout MessageReader) throws {
            tariff = try m.read(); converged = try m.read(); welfare = try m.read(); evMean = try m.read()
            evQuintiles = try m.read(); multipliers = try m.read(); rate = try m.read(); wages = try m.read()
            transfers = try m.read(); evaluations = try m.read(); unconvergedStates = try m.read()
        }
        func welfare(_ objective: PolicyObjective) -> Double { welfare[PolicyObjective.all.firstIndex(of: objective)!] }

        var json: JSON {
            .object([("tariff", .number(tariff)), ("converged", .bool(converged)),
                     ("welfare", .object(zip(PolicyObjective.all, welfare).map { ($0.label, JSON.number($1)) })),
                     ("ev_mean_percent", .number(evMean)), ("ev_quintiles_percent", .numbers(evQuintiles)),
                     ("R", .number(rate)), ("wages", .numbers(wages)), ("transfers", .numbers(transfers)),
                     ("world_evaluations", .integer(evaluations)), ("ev_unconverged", .integer(unconvergedStates)),
                     ("multipliers", .numbers(multipliers))])
        }
        init?(json: JSON) {
            guard let t = json["tariff"]?.double, case let .bool(c)? = json["converged"],
                  let w = json["welfare"], let mean = json["ev_mean_percent"]?.double, let q = json["ev_quintiles_percent"]?.doubles,
                  let r = json["R"]?.double, let wages = json["wages"]?.doubles, let tr = json["transfers"]?.doubles,
                  let n = json["world_evaluations"]?.double, let lambda = json["multipliers"]?.doubles else { return nil }
            let welfare = PolicyObjective.all.compactMap { w[$0.label]?.double }
            guard welfare.count == PolicyObjective.all.count else { return nil }
            let unconverged = json["ev_unconverged"]?.double.map { Int($0) } ?? (c ? 0 : -1)
            self.init(tariff: t, converged: c, welfare: welfare, evMean: mean, evQuintiles: q, multipliers: lambda,
                      rate: r, wages: wages, transfers: tr, evaluations: Int(n), unconvergedStates: unconverged)
        }
    }

    public func run(started: Date) throws -> RunEnd {
        var cfg = loaded.configuration
        try request.check()
        let world = cfg.world
        let loadedBaseline = try BaselineHousehold(config: cfg, baseline: request.baseline, country: request.country,
                                                   purpose: "a tariff policy")
        let c = loadedBaseline.country, base = loadedBaseline.base
        let income = loadedBaseline.income, old = loadedBaseline.household
        let summary = (request.baseline as NSString).appendingPathComponent("summary.json")
        if base.closure != .worldRateRebate && world.hasTariffs {
            throw ConfigError(file: summary, key: "closure",
                              problem: "the baseline has tariffs whose revenue is not rebated (closure \(base.closure.rawValue)), but the policy rebates tariff revenue; solve the baseline with equilibrium.closure = \"world-rate-rebate\"")
        }
        // The scheme applies to all revenue of every rebating country: the baseline's own tariffs (paid back
        // per capita there) would change scheme too, and that change would count as the policy's effect.
        if request.scheme != .perCapita && world.hasTariffs {
            throw ConfigError(file: "--rebate", key: "",
                              problem: "the baseline already has tariffs, whose revenue it pays back per capita; \(request.scheme.rawValue) would change that too (use a baseline without tariffs)")
        }
        if !request.outputFolderGiven {
            cfg.outputDirectory = (request.baseline as NSString).appendingPathComponent("policy-\(world.names[c])-\(request.scheme.rawValue)")
        }
        let comm = MPIEnvironment.world()
        try request.check(ranks: comm.size)
        let log = commandLogger(comm)
        let folderFile = request.outputFolderGiven ? "--out" : "--baseline"
        let (folder, refusal) = try prepareOutputFolder(cfg.outputDirectory, outputs: PolicyJob.outputs + [PolicyJob.checkpointName],
                                                        file: folderFile, key: "", comm: comm)
        if !refusal.isEmpty { throw HatFailure(refusal, code: HatExit.badInput) }
        // Earlier candidates: read with --resume, refused without it (never overwritten silently).
        let checkpoint = (cfg.outputDirectory as NSString).appendingPathComponent(PolicyJob.checkpointName)
        var known: [Candidate] = []
        var problem = ""
        if comm.isRoot {
            if FileManager.default.fileExists(atPath: checkpoint) {
                if !request.resume {
                    problem = "\(checkpoint): candidates of an earlier run are there; continue with --resume, or choose another --out"
                } else {
                    do {
                        let text = try String(contentsOfFile: checkpoint, encoding: .utf8)
                        let json = try JSON.parse(text)
                        guard json["rebate"]?.string == request.scheme.rawValue, json["country"]?.string == world.names[c],
                              json["ev_method"]?.string == request.evMethod.rawValue, let items = json["candidates"]?.array else {
                            throw AnalysisError("written by a run with another --rebate, --country or --ev-method")
                        }
                        known = try items.map { item in
                            guard let candidate = Candidate(json: item) else { throw AnalysisError("a candidate is incomplete") }
                            return candidate
                        }
                    } catch {
                        problem = "\(checkpoint): cannot resume from it: \(error)"
                    }
                }
            }
        }
        try comm.broadcast(&problem)
        if !problem.isEmpty {
            folder?.abandon()
            throw HatFailure(problem, code: HatExit.badInput)
        }
        known = try comm.allGather(comm.isRoot ? known : [])

        log("policy: \(world.names[c])'s uniform import tariff on [\(request.lower), \(request.upper)], revenue \(request.scheme.rawValue), objectives \(request.objectives.map(\.label).joined(separator: ", ")), EV \(request.evMethod.rawValue), \(comm.size) rank(s) in \(request.groups) group(s)\(known.isEmpty ? "" : ", \(known.count) candidates from \(PolicyJob.checkpointName)")")
        return try abandoningOnFailure(folder, comm: comm) {
            try search(cfg: cfg, country: c, base: base, old: old, income: income, known: known, comm: comm, log: log,
                folder: folder, checkpoint: checkpoint, started: started)
        }
    }

    /// The world with country c's uniform import tariff t (every partner; its own good untaxed).
    static func world(_ world: World, country c: Int, tariff t: Double) -> World {
        var w = world
        for j in 0..<world.count where j != c { w.tariffs[c * world.count + j] = t }
        return w
    }

    /// One candidate on `comm` (collective): the equilibrium from `start` and the EV of every state.
    func evaluate(_ t: Double, start: (rate: Double, wages: [Double], transfers: [Double]), cfg: RunConfiguration, country c: Int,
                  base: BaselineRun, old: AnalysedHousehold, income: IncomeProcess, comm: Communicator) throws -> Candidate {
        let newWorld = PolicyJob.world(cfg.world, country: c, tariff: t)
        var eq = cfg.equilibrium
        eq.closure = MarketClosure(.worldRateRebate, rate: base.rates[0], beta: base.beta, world: newWorld, scheme: request.scheme)
        eq.start = EquilibriumStart(wages: start.wages, rate: start.rate, beta: base.beta)
        let rebating = eq.closure.rebating
        if !rebating.isEmpty {
            eq.start.unknowns = MarketClosure.worldRate(beta: base.beta).unknowns(at: eq.start, countries: newWorld.count)
                + rebating.map { start.transfers[$0] }
        }
        let evaluator = try WorldEvaluator(world: newWorld, model: cfg.model, communicator: comm, income: income)
        let result = try solveEquilibrium(evaluator: evaluator, options: eq, log: .silent)
        let failed = Candidate.failed(t, rate: result.prices.rates[0], wages: result.prices.wages, transfers: result.prices.transfers,
                                      evaluations: result.evaluations)
        guard result.converged && !result.report.failed else { return failed }
        let new = try AnalysedHousehold.gather(country: c, from: evaluator, prices: result.prices)
        var settings = EquivalentVariation.Settings()
        settings.method = request.evMethod
        let target: EquivalentVariation.Target = request.evMethod == .author ? .values(new.exAnteValues) : .solved(new.problem)
        let ev = try EquivalentVariation.compute(old: old.problem, target: target, settings: settings, communicator: comm)
        let lambda = ev.multipliers
        let percent = lambda.map { 100 * ($0 - 1) }
        var mean = 0.0, mass = 0.0
        for k in percent.indices { mean += old.masses[k] * percent[k]; mass += old.masses[k] }
        return Candidate(tariff: t, converged: ev.unconvergedCount == 0, welfare: PolicyObjective.all.map { $0.value(multipliers: lambda, household: old) },
                         evMean: mean / mass, evQuintiles: CrossSection(old, welfare: percent).quintiles().map { $0.welfare! },
                         multipliers: lambda, rate: result.prices.rates[0], wages: result.prices.wages,
                         transfers: result.prices.transfers, evaluations: result.evaluations, unconvergedStates: ev.unconvergedCount)
    }

    /// `evaluate`, with an analysis that fails (agreed within `comm`) recorded as a candidate that did not
    /// converge, so that the other groups are not left waiting.
    func evaluateOrRecordFailure(_ t: Double, start: (rate: Double, wages: [Double], transfers: [Double]), cfg: RunConfiguration,
                                 country c: Int, base: BaselineRun, old: AnalysedHousehold, income: IncomeProcess,
                                 comm: Communicator, log: Logger) throws -> Candidate {
        do {
            let candidate = try evaluate(t, start: start, cfg: cfg, country: c, base: base, old: old, income: income, comm: comm)
            if candidate.unconvergedStates > 0 {
                log(String(format: "policy: t = %.6f: the EV of %d state(s) has no bracketed root, so W is not defined there", t,
                           candidate.unconvergedStates))
            }
            return candidate
        } catch let error as AnalysisError {
            log("policy: t = \(t): \(error)")
            return Candidate.failed(t, rate: start.rate, wages: start.wages, transfers: start.transfers, evaluations: 0)
        }
    }

    func search(cfg: RunConfiguration, country c: Int, base: BaselineRun, old: AnalysedHousehold, income: IncomeProcess,
                known: [Candidate], comm: Communicator, log: Logger, folder: RunFolder?, checkpoint: String,
                started: Date) throws -> RunEnd {
        var done: [Double: Candidate] = [:]
        for candidate in known { done[candidate.tariff] = candidate }
        let baseStart = (rate: base.rates[0], wages: base.wages, transfers: base.transfers)
        func save() throws {
            var problem = ""
            if comm.isRoot {
                let list = done.values.sorted { $0.tariff < $1.tariff }
                let json = JSON.object([("rebate", .string(request.scheme.rawValue)), ("country", .string(cfg.world.names[c])),
                                        ("ev_method", .string(request.evMethod.rawValue)),
                                        ("candidates", .array(list.map(\.json)))])
                do { try writeAtomically(json.rendered() + "\n", to: checkpoint) } catch { problem = "\(error)" }
            }
            try comm.broadcast(&problem)
            if !problem.isEmpty { throw HatFailure("policy: cannot write \(checkpoint): \(problem)", code: HatExit.io) }
        }

        // The grid, over rank groups: each candidate from the baseline's prices, so that its numbers do not
        // depend on which group ran it or what it ran before.
        let lo = request.lower, hi = request.upper, n = request.gridPoints
        let grid = (0..<n).map { i in i == n - 1 ? hi : lo + (hi - lo) * Double(i) / Double(n - 1) }
        let missing = grid.filter { done[$0] == nil }
        if !missing.isEmpty {
            let t0 = Date()
            let groupCount = min(request.groups, comm.size)
            let ranks = Partition(count: comm.size, parts: groupCount)
            let group = (0..<groupCount).first { ranks.range(of: $0).contains(comm.rank) }!
            let sub = try comm.split(color: group, key: comm.rank)
            let mine = Partition(count: missing.count, parts: groupCount).range(of: group)
            var local: [Candidate] = []
            // Progress over the root's group (the other groups have as many candidates, give or take one).
            let progress = PhaseProgress("policy, grid candidates", unit: "candidates", total: mine.count, log: log)
            for i in mine {
                defer { progress.tick() }
                let candidate = try evaluateOrRecordFailure(missing[i], start: baseStart, cfg: cfg, country: c, base: base,
                                                            old: old, income: income, comm: sub, log: log)
                if sub.isRoot { local.append(candidate) }
            }
            for candidate in try comm.allGather(local) { done[candidate.tariff] = candidate }
            try save()
            log(String(format: "policy: %d grid candidates in %.1f s", missing.count, Date().timeIntervalSince(t0)))
            if try StopSignal.agree(comm) { log("policy: stopped after the grid; --resume continues"); return .stopped }
        }

        // Per objective: Brent's method on all ranks from the best grid point, bracketed by its neighbours.
        var optima: [(PolicyObjective, ScalarMaximum, Candidate)] = []
        for objective in request.objectives {
            let values = grid.map { done[$0]!.converged ? done[$0]!.welfare(objective) : -.infinity }
            guard let best = values.indices.max(by: { values[$0] < values[$1] }), values[best].isFinite else {
                throw AnalysisError("policy: no grid candidate converged")
            }
            let a = grid[max(best - 1, 0)], b = grid[min(best + 1, n - 1)]
            var stopped = false
            let found = try ScalarMaximum.find(lower: a, upper: b, start: grid[best], value: values[best],
                                               tolerance: request.tolerance) { t in
                if let candidate = done[t] { return candidate.converged ? candidate.welfare(objective) : -.infinity }
                if stopped { return -.infinity }
                // From the nearest candidate's prices.
                let near = done.values.filter(\.converged).min { abs($0.tariff - t) < abs($1.tariff - t) }
                let start = near.map { (rate: $0.rate, wages: $0.wages, transfers: $0.transfers) } ?? baseStart
                let candidate = try evaluateOrRecordFailure(t, start: start, cfg: cfg, country: c, base: base, old: old,
                                                            income: income, comm: comm, log: log)
                done[t] = candidate
                try save()
                log(String(format: "policy: %@ t = %.6f: W = %.10f", objective.label, t, candidate.welfare(objective)))
                if try StopSignal.agree(comm) { stopped = true }
                return candidate.converged ? candidate.welfare(objective) : -.infinity
            }
            if stopped { log("policy: stopped; --resume continues"); return .stopped }
            let at = done[found.x]!
            optima.append((objective, found, at))
            log(String(format: "policy: %@ optimum t = %.6f (bracket %.6f to %.6f, %d evaluations), W = %.10f",
                       objective.label, found.x, found.bracket.0, found.bracket.1, found.evaluations, found.value))
            if let limit = PolicyJob.undefinedEnd(of: found, done) {
                log(String(format: "policy: %@: W is not defined at t = %.6f, an end of the final bracket, so t = %.6f is the best where it is defined, not an interior optimum (not converged)",
                           objective.label, limit, found.x))
            }
        }
        try writeOutputs(cfg: cfg, country: c, old: old, grid: grid, done: done, optima: optima, comm: comm, folder: folder,
                         started: started)
        folder?.unlock()
        let allConverged = optima.allSatisfy { $0.2.converged && PolicyJob.undefinedEnd(of: $0.1, done) == nil }
        return allConverged ? .converged : .notConverged
    }

    /// An end of Brent's final bracket where W is not defined (a candidate that did not converge). The
    /// search treats W there as −∞, so the maximum it returns may sit against that end rather than at a
    /// stationary point of W. The bracket's ends are always evaluated candidates (grid points or Brent's own).
    static func undefinedEnd(of found: ScalarMaximum, _ done: [Double: Candidate]) -> Double? {
        [found.bracket.0, found.bracket.1].first { done[$0].map { !$0.converged } ?? false }
    }

    func writeOutputs(cfg: RunConfiguration, country c: Int, old: AnalysedHousehold, grid: [Double], done: [Double: Candidate],
                      optima: [(PolicyObjective, ScalarMaximum, Candidate)], comm: Communicator, folder: RunFolder?,
                      started: Date) throws {
        var runID = folder?.runID ?? ""
        try comm.broadcast(&runID)
        let dir = cfg.outputDirectory
        func staged(_ name: String) -> String { RunFolder.temporaryPath(in: dir, for: name, runID: runID) }
        if let folder { for name in PolicyJob.outputs { folder.track(name) } }
        let list = done.values.sorted { $0.tariff < $1.tariff }
        var problem = ""
        do {
            let file = try HDF5File.create(staged("policy.h5"), communicator: comm)
            try file.setAttribute("/", "program", "hat policy")
            try file.setAttribute("/", "country", cfg.world.names[c])
            try file.setAttribute("/", "rebate", request.scheme.rawValue)
            // Only the candidates whose equilibrium and EV converged, as in policy.json's welfare_curve: a
            // failed one has no welfare to store (policy.json lists their tariffs).
            let curve = list.filter(\.converged)
            try file.writeShared("candidates/tariff", shape: [curve.count], values: curve.map(\.tariff),
                                 attributes: ["description": "every evaluated uniform import tariff whose equilibrium and EV converged"])
            for objective in PolicyObjective.all {
                try file.writeShared("candidates/welfare_\(objective.label.replacingOccurrences(of: ":", with: "_"))",
                                     shape: [curve.count], values: curve.map { $0.welfare(objective) },
                                     attributes: ["description": "W(t) of the objective \(objective.label) (mean lambda)"])
            }
            let shape = [old.shockCount, old.assetCount]
            for (objective, _, at) in optima where at.converged {
                try file.writeShared("optimum/\(objective.label.replacingOccurrences(of: ":", with: "_"))/ev", shape: shape,
                                     values: at.multipliers,
                                     attributes: ["description": "equivalent variation lambda(s, a) at the optimal tariff of \(objective.label)",
                                                  "dimensions": "income_state, asset"])
            }
            try file.writeShared("welfare/distribution_before", shape: shape, values: old.masses,
                                 attributes: ["description": "baseline stationary distribution", "dimensions": "income_state, asset"])
        } catch {
            problem = "\(error)"
        }
        try commitStagedOutputs(PolicyJob.outputs, folder: folder, comm: comm, directory: dir, localProblem: problem,
                                note: "the candidates are in \(PolicyJob.checkpointName)") {
            let json = JSON.object([
                ("status", .string(optima.allSatisfy { $0.2.converged && PolicyJob.undefinedEnd(of: $0.1, done) == nil } ? "converged" : "not-converged")),
                ("country", .string(cfg.world.names[c])),
                ("instrument", .string("tariff")),
                ("rebate", .string(request.scheme.rawValue)),
                ("ev_method", .string(request.evMethod.rawValue)),
                ("range", .numbers([request.lower, request.upper])),
                ("grid", .numbers(grid)),
                ("tolerance", .number(request.tolerance)),
                ("welfare_curve", .object(PolicyObjective.all.map { objective in
                    (objective.label, JSON.array(list.filter(\.converged).map { JSON.numbers([$0.tariff, $0.welfare(objective)]) }))
                })),
                ("optimum", .object(optima.map { objective, found, at in
                    (objective.label, JSON.object([
                        ("tariff", .number(found.x)), ("welfare", .number(found.value)),
                        ("ev_mean_percent", .number(at.evMean)), ("ev_quintiles_percent", .numbers(at.evQuintiles)),
                        ("bracket", .numbers([found.bracket.0, found.bracket.1])),
                        ("at_range_end", .bool(found.x <= request.lower + request.tolerance || found.x >= request.upper - request.tolerance)),
                        ("undefined_at_bracket_end", PolicyJob.undefinedEnd(of: found, done).map(JSON.number) ?? .null),
                        ("evaluations", .integer(found.evaluations)), ("R", .number(at.rate)), ("transfers", .numbers(at.transfers)),
                    ]))
                })),
                ("candidates", .integer(list.count)),
                ("unconverged_candidates", .numbers(list.filter { !$0.converged }.map(\.tariff))),
                ("ranks", .integer(comm.size)), ("groups", .integer(request.groups)),
                ("wall_seconds", .number(Date().timeIntervalSince(started))),
                ("run_id", .string(runID)), ("version", .string(hatVersion)),
                ("run", runJSON(config: cfg, runID: runID, ranks: comm.size)),
            ]).droppingNonFinite() ?? .object([])
            try writeDurably(json.rendered() + "\n", to: staged("policy.json"))
        }
    }
}
