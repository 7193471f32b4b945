import Analysis
import Equilibrium
import Foundation
import HATConfig
import HATModel
import Output
import Parallel
import Solvers

/// `hat counterfactual`: a trade-cost or tariff experiment against a solved baseline — the new equilibrium
/// (one world R, β fixed at the baseline's), the equivalent variation of every state of the analysed
/// country, the ACR benchmark — into counterfactual.json and counterfactual.h5, together or not at all.
public struct CounterfactualJob {
    /// What the command line asked for.
    public struct Request {
        /// The baseline's output folder (summary.json of a converged `hat solve` of this configuration).
        public var baseline: String
        public var experiment: TradeExperiment
        /// Multiplier of the changed trade costs (default 0.9); trade-cost experiments only.
        public var factor: Double?
        /// Ad valorem tariff (default 0.1); tariff experiments only.
        public var tariff: Double?
        /// The analysed country (default: [analysis] country, else the last country).
        public var country: String?
        public var evStart = 1.05
        /// Which household values the EV compares (`--ev-method`).
        public var evMethod = EquivalentVariation.Method.author
        /// `--decompose`: Proposition 2's split of the gains, by central differences of this size in h
        /// (h = 1 is the experiment); nil = not asked.
        public var decomposeStep: Double?
        /// How the tariff revenue is paid back (`--rebate`; nil = per capita, the baseline's rule). Only where
        /// there is revenue: a tariff experiment, or a baseline that rebates its tariffs.
        public var rebateScheme: RebateScheme?
        /// Whether `--out` was given (else the outputs go to BASELINE/counterfactual-EXPERIMENT).
        public var outputFolderGiven = false

        public init(baseline: String, experiment: TradeExperiment) {
            self.baseline = baseline; self.experiment = experiment
        }

        /// The checks that need no configuration (`ConfigError` naming the option): --factor only for
        /// trade-cost experiments and > 0, --tariff only for tariffs and > -1, --ev-start > 0.
        public func check() throws {
            func bad(_ option: String, _ problem: String) -> ConfigError { ConfigError(file: option, key: "", problem: problem) }
            if experiment.isTariff, factor != nil { throw bad("--factor", "applies to trade-cost experiments, not \(experiment.label) (use --tariff)") }
            if !experiment.isTariff, tariff != nil { throw bad("--tariff", "applies to tariff experiments, not \(experiment.label) (use --factor)") }
            if let factor, !(factor > 0 && factor.isFinite) { throw bad("--factor", "must be a finite number > 0 (got \(factor))") }
            if let tariff, !(tariff > -1 && tariff.isFinite) { throw bad("--tariff", "must be a finite number > -1 (got \(tariff))") }
            guard evStart > 0, evStart.isFinite else { throw bad("--ev-start", "must be a finite number > 0 (got \(evStart))") }
            if let step = decomposeStep, !(step > 0 && step <= 0.25) {
                throw bad("--decompose-step", "must be a number in (0, 0.25] (got \(step))")
            }
        }
    }

    public static let outputs = ["counterfactual.h5", "counterfactual.json"]

    public let loaded: LoadedConfiguration
    public let request: Request

    public init(loaded: LoadedConfiguration, request: Request) {
        self.loaded = loaded; self.request = request
    }

    /// Check the request against the configuration and the baseline (`ConfigError`s, exit 2), solve the
    /// new equilibrium and the welfare, write the outputs. Collective once MPI has started; refusals and
    /// failures are thrown as `HatFailure`s with the folders this run made removed again.
    public func run(started: Date) throws -> RunEnd {
        var cfg = loaded.configuration
        try request.check()
        let baseline = request.baseline, country = request.country
        let factor = request.factor ?? 0.9, tariff = request.tariff ?? 0.1
        let exp = request.experiment.canonical(in: cfg.world)
        let world = cfg.world
        let loadedBaseline = try BaselineHousehold(config: cfg, baseline: baseline, country: country, purpose: "a counterfactual")
        let c = loadedBaseline.country, base = loadedBaseline.base
        let newWorld: World
        do { newWorld = try exp.apply(to: world, country: c, factor: factor, tariff: tariff) } catch {
            throw ConfigError(file: "--experiment", key: "", problem: "\(error)")
        }
        // Tariff revenue: rebated in the counterfactual exactly when it was in the baseline, or when the
        // experiment is a tariff (then the baseline must not have tariffs whose revenue it threw away).
        let rebate = base.closure == .worldRateRebate || exp.isTariff
        if rebate && base.closure != .worldRateRebate && world.hasTariffs {
            throw ConfigError(file: (baseline as NSString).appendingPathComponent("summary.json"), key: "closure",
                              problem: "the baseline has tariffs whose revenue is not rebated (closure \(base.closure.rawValue)), but a tariff counterfactual rebates it; solve the baseline with equilibrium.closure = \"world-rate-rebate\"")
        }
        if let scheme = request.rebateScheme {
            if !rebate || newWorld.rebatingCountries.isEmpty {
                throw ConfigError(file: "--rebate", key: "",
                                  problem: "the \(exp.label) experiment on this baseline (closure \(base.closure.rawValue)) raises no tariff revenue to pay back as \(scheme.rawValue)")
            }
            // The scheme applies to all revenue of every rebating country: with tariffs already in the
            // baseline (paid back per capita there) another scheme would count the change of scheme as
            // part of the experiment.
            if scheme != .perCapita && world.hasTariffs {
                throw ConfigError(file: "--rebate", key: "",
                                  problem: "the baseline already has tariffs, whose revenue it pays back per capita; \(scheme.rawValue) would change that too (use a baseline without tariffs)")
            }
        }
        let scheme = request.rebateScheme ?? .perCapita
        let income = loadedBaseline.income, old = loadedBaseline.household
        if !request.outputFolderGiven {
            cfg.outputDirectory = (baseline as NSString).appendingPathComponent("counterfactual-" + exp.label.replacingOccurrences(of: ":", with: "-"))
        }
        let folderFile = request.outputFolderGiven ? "--out" : "--baseline", folderKey = ""

        // MPI starts only once the inputs are checked: bad input costs nothing and writes nothing.
        let comm = MPIEnvironment.world()
        let log = commandLogger(comm)
        let (folder, refusal) = try prepareOutputFolder(cfg.outputDirectory, outputs: CounterfactualJob.outputs, file: folderFile,
                                                        key: folderKey, comm: comm)
        if !refusal.isEmpty { throw HatFailure(refusal, code: HatExit.badInput) }
        // Room for the outputs, before the long computation (checked again when they are written).
        var spaceProblem = ""
        if let folder {
            do { try folder.checkSpace(bytes: CounterfactualJob.outputBytes(countries: newWorld.count, states: old.stateCount)) } catch {
                spaceProblem = "writing outputs into \(cfg.outputDirectory): \(error); nothing was written"
            }
        }
        try comm.broadcast(&spaceProblem)
        if !spaceProblem.isEmpty {
            folder?.abandon()
            throw HatFailure(spaceProblem, code: HatExit.io)
        }

        log("counterfactual \(exp.label)\(exp.isTariff ? String(format: ", tariff %g", tariff) : String(format: ", factor %g", factor)), analysed country \(world.names[c]), \(comm.size) rank(s)")
        return try abandoningOnFailure(folder, comm: comm) {
            try solve(cfg: cfg, experiment: exp, factor: factor, tariff: tariff, newWorld: newWorld, rebate: rebate ? scheme : nil, country: c,
                base: base, old: old, income: income, comm: comm, log: log, folder: folder, started: started)
        }
    }

    /// counterfactual.h5: the new equilibrium as solution.h5 (four household arrays per country and the
    /// distribution), the welfare arrays, and a margin for the rest.
    public static func outputBytes(countries: Int, states: Int) -> Double {
        let m = Double(countries), s = Double(states)
        return (4 * m * m * s + m * s + 6 * s) * 8 * 1.05 + 4 * 1048576
    }

    func solve(cfg: RunConfiguration, experiment exp: TradeExperiment, factor: Double, tariff: Double, newWorld: World,
               rebate: RebateScheme?, country c: Int, base: BaselineRun, old: AnalysedHousehold, income: IncomeProcess,
               comm: Communicator, log: Logger, folder: RunFolder?, started: Date) throws -> RunEnd {
        let names = cfg.world.names
        var timings: [(String, Double)] = []
        // The baseline's aggregate elasticity of the analysed country, for the ACR benchmark: the baseline's
        // own analysis when it analysed this country (the same bits: both households are cold solves at the
        // reporting tolerance), else computed here.
        var t0 = Date()
        let oldShares = importShares(old)
        let elasticity: Double
        if let known = base.analysedElasticity, known.country == names[c] {
            elasticity = known.value
        } else {
            let micro = try MicroElasticities.compute(old, communicator: comm)
            elasticity = micro.aggregate(bilateral: micro.bilateral(old), tradeShares: oldShares)
            timings.append(("baseline_elasticities", Date().timeIntervalSince(t0)))
        }

        // The new equilibrium: one world R, β fixed at the baseline's, from the baseline's prices.
        var eq = cfg.equilibrium
        eq.closure = rebate.map { .worldRateRebate(beta: base.beta, rebating: newWorld.rebatingCountries, scheme: $0) } ?? .worldRate(beta: base.beta)
        eq.start = EquilibriumStart(wages: base.wages, rate: base.rates[0], beta: base.beta)
        if rebate != nil {
            var x = MarketClosure.worldRate(beta: base.beta).unknowns(at: eq.start, countries: newWorld.count)
            x += eq.closure.rebating.map { base.transfers[$0] }
            eq.start.unknowns = x
        }
        t0 = Date()
        let evaluator = try WorldEvaluator(world: newWorld, model: cfg.model, communicator: comm, income: income)
        let result = try solveEquilibrium(evaluator: evaluator, options: eq, log: log)
        timings.append(("equilibrium", Date().timeIntervalSince(t0)))

        var ev: EquivalentVariation?
        var decomposition: GainsDecomposition?
        var newShares: [Double]?
        if result.converged && !result.report.failed {
            let new = try AnalysedHousehold.gather(country: c, from: evaluator, prices: result.prices)
            newShares = importShares(new)
            t0 = Date()
            var settings = EquivalentVariation.Settings()
            settings.start = request.evStart
            settings.method = request.evMethod
            // The author's ΔV is the reported new household's; the converged method solves its own.
            let target: EquivalentVariation.Target = request.evMethod == .author ? .values(new.exAnteValues) : .solved(new.problem)
            ev = try EquivalentVariation.compute(old: old.problem, target: target, settings: settings, communicator: comm, log: log)
            timings.append(("equivalent_variation", Date().timeIntervalSince(t0)))
            log(String(format: "equivalent variation of %d states in %.2f s (%d household solves, %d shared); %d not converged",
                       ev!.multipliers.count, Date().timeIntervalSince(t0), ev!.totalSolves, ev!.nodes.count, ev!.unconvergedCount))
            if let step = request.decomposeStep {
                t0 = Date()
                decomposition = try decompose(step: step, cfg: cfg, world: cfg.world, newWorld: newWorld, country: c, base: base,
                                              new: result.prices, rebate: rebate, old: old, income: income, comm: comm,
                                              jacobian: result.jacobian, log: log)
                timings.append(("decomposition", Date().timeIntervalSince(t0)))
            }
        } else {
            log("the new equilibrium did not converge (\(result.reason.message)): no welfare computed")
        }

        // Outputs, staged and committed together.
        var runID = folder?.runID ?? ""
        try comm.broadcast(&runID)
        let dir = cfg.outputDirectory
        func staged(_ name: String) -> String { RunFolder.temporaryPath(in: dir, for: name, runID: runID) }
        if let folder { for name in CounterfactualJob.outputs { folder.track(name) } }
        var problem = ""
        if let folder {
            // counterfactual.h5: the new equilibrium as solution.h5 (four household arrays per country and the
            // distribution), the welfare arrays, and a margin for the rest.
            do { try folder.checkSpace(bytes: CounterfactualJob.outputBytes(countries: newWorld.count, states: old.stateCount)) } catch {
                problem = "\(error)"
            }
        }
        try comm.broadcast(&problem)
        var newConfig = cfg
        newConfig.world = newWorld
        newConfig.equilibrium = eq
        if problem.isEmpty { do {
            try writeSolution(path: staged("counterfactual.h5"), config: newConfig, result: result, evaluator: evaluator,
                              runID: runID) { file in
                try file.setAttribute("/", "experiment", exp.label)
                try file.setAttribute("/", "analysed_country", names[c])
                if let ev {
                    let shape = [old.shockCount, old.assetCount]
                    try file.writeShared("welfare/ev", shape: shape, values: ev.multipliers,
                                         attributes: ["description": "equivalent variation lambda(s, a): gross multiplier of period resources at the old prices (100 (lambda - 1) is the percent gain)",
                                                      "dimensions": "income_state, asset"])
                    try file.writeShared("welfare/converged", shape: shape, values: ev.converged.map { $0 ? 1 : 0 },
                                         attributes: ["description": "1 where the state's root is bracketed within the multiplier tolerance (1e-10)", "dimensions": "income_state, asset"])
                    try file.writeShared("welfare/residual", shape: shape, values: ev.residuals,
                                         attributes: ["description": "V at the old prices with multiplier lambda minus the new value", "dimensions": "income_state, asset"])
                    try file.writeShared("welfare/distribution_before", shape: shape, values: old.masses,
                                         attributes: ["description": "baseline stationary distribution (weights of the means)", "dimensions": "income_state, asset"])
                    try file.writeShared("welfare/expenditure_before", shape: shape, values: old.stateExpenditure,
                                         attributes: ["description": "baseline expenditure pc(s, a) (quintiles)", "dimensions": "income_state, asset"])
                    try file.writeShared("welfare/assets", shape: [old.assetCount], values: old.problem.assets,
                                         attributes: ["description": "asset grid of the analysed country"])
                    try file.writeShared("welfare/multiple_roots", shape: shape, values: ev.multipleRoots.map { $0 ? 1 : 0 },
                                         attributes: ["description": "1 where V at the old prices minus the new value changes sign more than once over the multipliers: the EV is not unique (the root nearest --ev-start is reported)", "dimensions": "income_state, asset"])
                    try file.writeShared("welfare/new_values", shape: shape, values: ev.target,
                                         attributes: ["description": "the new ex-ante values the EV matches (the reported new household's for --ev-method author, converged values for converged)", "dimensions": "income_state, asset"])
                    try file.writeShared("welfare/bracket_width", shape: shape, values: ev.bracketWidths,
                                         attributes: ["description": "width in lambda of the state's final bracket of the root", "dimensions": "income_state, asset"])
                    if let d = decomposition {
                        for (name, values, what) in [
                            ("substitution", d.substitution, "A: gains from the goods' prices relative to the home good, discounted along the household's future (transition operator)"),
                            ("factor_prices", d.factorPrices, "B: gains from R, w and transfers measured in the home good, discounted likewise"),
                            ("asset_holdings", d.assetHoldings, "C: what re-optimising the savings policy adds (central difference of V minus V of the baseline savings policy)"),
                            ("distribution", d.distribution, "V(a, s) times the derivative of the stationary mass of the state (sum over states: the distribution term of dW)"),
                            ("total", d.total, "derivative of the converged ex-ante value (central difference)"),
                            ("home_share_change", d.homeShareChange, "derivative of log pi_ii"),
                            ("transfer_value", d.transferValue, "dV/d tau, the value of one more unit of the numeraire every period (X / this is the per-period transfer worth X)"),
                        ] {
                            try file.writeShared("decomposition/\(name)", shape: shape, values: values,
                                                 attributes: ["description": what + ", per unit of h (h = 1 is the experiment)",
                                                              "dimensions": "income_state, asset"])
                        }
                        try file.writeShared("decomposition/mean_labour_income", shape: [1], values: [d.meanLabourIncome],
                                             attributes: ["description": "w E[z] of the analysed country at the baseline, the unit of the means in counterfactual.json"])
                    }
                    try file.writeShared("welfare/jump", shape: shape, values: ev.jumps.map { $0 ? 1 : 0 },
                                         attributes: ["description": "1 where the final bracket straddles a change of the household solve's step count (--ev-method author): V at the old prices may jump there", "dimensions": "income_state, asset"])
                }
            }
        } catch {
            problem = "\(error)"
        } }
        try commitStagedOutputs(CounterfactualJob.outputs, folder: folder, comm: comm, directory: dir, localProblem: problem,
                                note: "earlier outputs there are unchanged") {
            let json = counterfactualJSON(cfg: cfg, experiment: exp, factor: factor, tariff: tariff, rebate: rebate, country: c, base: base, result: result,
                                          oldHousehold: old, oldShares: oldShares, newShares: newShares,
                                          elasticity: elasticity, ev: ev, decomposition: decomposition, timings: timings, ranks: comm.size,
                                          wallSeconds: Date().timeIntervalSince(started), runID: runID)
            try writeDurably(json.rendered() + "\n", to: staged("counterfactual.json"))
        }
        folder?.unlock()
        let evConverged = ev.map { $0.unconvergedCount == 0 } ?? false
        log(String(format: "%@: R %.10f -> %.10f, wrote %@", result.converged ? "converged" : "NOT converged",
                   base.rates[0], result.prices.rates[0], dir))
        if result.converged && !evConverged { log("the EV of \(ev?.unconvergedCount ?? 0) state(s) did not converge (welfare/converged)") }
        return result.converged && evConverged ? .converged : .notConverged
    }

    func counterfactualJSON(cfg: RunConfiguration, experiment exp: TradeExperiment, factor: Double, tariff: Double, rebate: RebateScheme?,
                            country c: Int, base: BaselineRun,
                            result: EquilibriumResult, oldHousehold old: AnalysedHousehold, oldShares: [Double],
                            newShares: [Double]?, elasticity: Double, ev: EquivalentVariation?, decomposition: GainsDecomposition?,
                            timings: [(String, Double)], ranks: Int, wallSeconds: Double, runID: String) -> JSON {
        let names = cfg.world.names
        let evConverged = ev.map { $0.unconvergedCount == 0 } ?? false
        var fields: [(String, JSON)] = [
            ("status", .string(result.converged && evConverged ? "converged" : "not-converged")),
            ("reason", .string(!result.converged ? result.reason.message
                               : (evConverged ? result.reason.message : "the EV of \(ev?.unconvergedCount ?? 0) state(s) did not converge"))),
            ("experiment", .string(exp.label)),
            exp.isTariff ? ("tariff", .number(tariff)) : ("factor", .number(factor)),
            ("country", .string(names[c])),
            ("countries", .array(names.map { JSON.string($0) })),
            ("beta", .number(base.beta)),
            ("R_before", .number(base.rates[0])),
            ("R_after", .number(result.prices.rates[0])),
            ("wages_before", .numbers(base.wages)),
            ("wages_after", .numbers(result.prices.wages)),
        ]
        if let rebate {
            fields.append(("transfers_after", .numbers(result.prices.transfers)))
            fields.append(("rebate_scheme", .string(rebate.rawValue)))
        }
        fields.append(("home_share_before", .number(oldShares[c])))
        if let newShares {
            fields.append(("home_share_after", .number(newShares[c])))
            // ACR: the welfare change of a gravity model with the baseline's aggregate elasticity.
            fields.append(("acr_percent", .number(100 * Foundation.log(oldShares[c] / newShares[c]) / -elasticity)))
        }
        fields.append(("acr_elasticity", .number(elasticity)))
        fields.append(("rate_wage_ratio", .number((result.prices.rates[c] / result.prices.wages[c]) / (base.rates[c] / base.wages[c]))))
        if let ev {
            let percent = ev.multipliers.map { 100 * ($0 - 1) }
            var mean = 0.0, total = 0.0
            for k in percent.indices { mean += old.masses[k] * percent[k]; total += old.masses[k] }
            let cs = CrossSection(old, welfare: percent)
            let q = cs.quintiles()
            fields.append(("ev_mean_percent", .number(mean / total)))
            fields.append(("ev_quintiles_percent", .numbers(q.map { $0.welfare! })))
            fields.append(("ev_min", .number(ev.multipliers.min()!)))
            fields.append(("ev_max", .number(ev.multipliers.max()!)))
            fields.append(("ev_states", .integer(ev.multipliers.count)))
            fields.append(("ev_unconverged", .integer(ev.unconvergedCount)))
            let evResidual = normInf(ev.residuals)
            if evResidual.isFinite { fields.append(("ev_max_abs_residual", .number(evResidual))) }
            // The states whose V^x is continuous across their bracket: there the residual is what 1e-10 in x is worth.
            let continuous = normInf(ev.residuals.indices.filter { !ev.jumps[$0] }.map { ev.residuals[$0] })
            if continuous.isFinite { fields.append(("ev_max_abs_residual_without_jumps", .number(continuous))) }
            fields.append(("ev_household_solves", .integer(ev.totalSolves)))
            fields.append(("ev_household_steps", .integer(ev.householdSteps)))
            fields.append(("ev_method", .string(ev.method.rawValue)))
            fields.append(("ev_start", .number(request.evStart)))
            fields.append(("ev_max_bracket_width", .number(ev.bracketWidths.max() ?? 0)))
            var multipleMass = 0.0
            for k in ev.multipleRoots.indices where ev.multipleRoots[k] { multipleMass += old.masses[k] / total }
            fields.append(("ev_multiple_root_states", .integer(ev.multipleRoots.filter { $0 }.count)))
            fields.append(("ev_multiple_root_population_share", .number(multipleMass)))
            fields.append(("ev_jump_states", .integer(ev.jumps.filter { $0 }.count)))
            fields.append(("ev_multiplier_tolerance", .number(EquivalentVariation.Settings().multiplierTolerance)))
            if ev.method == .converged { fields.append(("ev_value_tolerance", .number(EquivalentVariation.Settings().valueTolerance))) }
            fields.append(("ev_income_groups_percent", .object([(0.2, 0.8, "p20_p80"), (0.5, 0.5, "p50_p50")].map { lo, hi, name in
                let g = cs.incomeGroups(low: lo, high: hi)
                // An empty group (few income states) has no mean: it is left out, not written as null.
                let groups = [("poor", g.poor), ("middle", g.middle), ("rich", g.rich)].filter { $0.1.share > 0 }
                return (name, .object(groups.map { ($0.0, JSON.number($0.1.welfare!)) }))
            })))
        }
        if let d = decomposition { fields.append(("decomposition", decompositionJSON(d, old: old))) }
        fields.append(("equilibrium", .object([
            ("status", .string(result.converged ? "converged" : "not-converged")),
            ("closure", .string(rebate != nil ? Closure.worldRateRebate.rawValue : Closure.worldRate.rawValue)),
            ("iterations", .integer(result.iterations)), ("world_evaluations", .integer(result.evaluations)),
            ("strategy", .string(result.strategy)),
        ] + (result.residuals.allSatisfy { $0.isFinite } ? [("residual_max", JSON.number(result.residualMax))]
             : [("residual_note", JSON.string("no finite residual: the last trial prices are infeasible"))]))))
        fields.append(("baseline", .string(request.baseline)))
        for (name, seconds) in timings { fields.append(("\(name)_wall_seconds", .number(seconds))) }
        fields.append(("ranks", .integer(ranks)))
        fields.append(("wall_seconds", .number(wallSeconds)))
        fields.append(("run_id", .string(runID)))
        fields.append(("version", .string(hatVersion)))
        fields.append(("run", runJSON(config: cfg, runID: runID, ranks: ranks)))
        return JSON.object(fields).droppingNonFinite() ?? .object([])
    }

    /// The equilibria at h = ±step along the experiment (the counterfactual's closure, from the baseline's prices moved
    /// along the line to the new equilibrium's) and the analysed household's decomposition there.
    func decompose(step: Double, cfg: RunConfiguration, world: World, newWorld: World, country c: Int, base: BaselineRun,
                   new: Prices, rebate: RebateScheme?, old: AnalysedHousehold, income: IncomeProcess, comm: Communicator,
                   jacobian nearby: [Double]?, log: Logger) throws -> GainsDecomposition {
        var problems: [HouseholdProblem] = []
        // Each solve starts from the Jacobian of the last one nearby (the counterfactual's, then h = +step's):
        // the two points are close, so a fresh finite-difference Jacobian would cost one evaluation per
        // unknown for little.
        var jacobian = nearby
        for h in [step, -step] {
            let w = GainsDecomposition.world(from: world, to: newWorld, at: h)
            // The counterfactual's own closure: revenue rebated (by its scheme) exactly when it is there.
            var eq = cfg.equilibrium
            eq.closure = rebate.map { .worldRateRebate(beta: base.beta, rebating: w.rebatingCountries, scheme: $0) } ?? .worldRate(beta: base.beta)
            let rebating = eq.closure.rebating
            let wages = zip(base.wages, new.wages).map { $0 + h * ($1 - $0) }
            eq.start = EquilibriumStart(wages: wages, rate: base.rates[0] + h * (new.rates[0] - base.rates[0]), beta: base.beta)
            if !rebating.isEmpty {
                var x = MarketClosure.worldRate(beta: base.beta).unknowns(at: eq.start, countries: w.count)
                x += rebating.map { base.transfers[$0] + h * (new.transfers[$0] - base.transfers[$0]) }
                eq.start.unknowns = x
            }
            eq.startingJacobian = jacobian
            let evaluator = try WorldEvaluator(world: w, model: cfg.model, communicator: comm, income: income)
            let result = try solveEquilibrium(evaluator: evaluator, options: eq, log: .silent)
            jacobian = result.jacobian ?? jacobian
            guard result.converged && !result.report.failed else {
                throw AnalysisError("decomposition: the equilibrium at h = \(h) did not converge (\(result.reason.message))")
            }
            log(String(format: "decomposition: equilibrium at h = %+g in %d evaluations", h, result.evaluations))
            problems.append(w.householdProblem(country: c, model: cfg.model, income: income, prices: result.prices))
        }
        let d = try GainsDecomposition.compute(baseline: old.problem, plus: problems[0], minus: problems[1], step: step)
        log(String(format: "decomposition: A + B + C matches the differenced values to %.1e (relative, worst state)", d.identityGap))
        return d
    }

    /// Means by expenditure quintile and income group of each term (baseline distribution), and the
    /// population aggregates of Proposition 2.
    func decompositionJSON(_ d: GainsDecomposition, old: AnalysedHousehold) -> JSON {
        let terms: [(String, [Double])] = [("substitution", d.substitution), ("factor_prices", d.factorPrices),
                                           ("asset_holdings", d.assetHoldings), ("total", d.total)]
        var household = 0.0, distribution = 0.0, mass = 0.0
        for k in d.total.indices { household += old.masses[k] * d.total[k]; distribution += d.distribution[k]; mass += old.masses[k] }
        var fields: [(String, JSON)] = [
            ("step", .number(d.step)),
            ("units", .string("per unit of h (h = 1 is the experiment); each state's term as the per-period transfer of the same value (the term over dV/d tau), in percent of mean labour income w E[z]")),
            ("identity_gap", .number(d.identityGap)),
            ("mean_labour_income", .number(d.meanLabourIncome)),
            ("aggregate_household_gains_value", .number(household / mass)),
            ("aggregate_distribution_term_value", .number(distribution)),
        ]
        // Means as per-period transfers of the same value, in percent of mean labour income (comparable
        // across households, unlike values).
        let percent = d.percentOfIncome
        fields.append(("quintiles_percent", .object(terms.map { name, values in
            (name, JSON.numbers(CrossSection(old, welfare: percent(values)).quintiles().map { $0.welfare! }))
        })))
        fields.append(("income_groups_percent", .object(terms.map { name, values in
            let g = CrossSection(old, welfare: percent(values)).incomeGroups(low: 0.2, high: 0.8)
            let groups = [("poor", g.poor), ("middle", g.middle), ("rich", g.rich)].filter { $0.1.share > 0 }
            return (name, JSON.object(groups.map { ($0.0, JSON.number($0.1.welfare!)) }))
        })))
        return .object(fields)
    }
}
