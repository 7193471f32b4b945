import Analysis
import ArgumentParser
import Equilibrium
import Foundation
import HATConfig
import HATModel
import Output
import Parallel
import Solvers

struct Counterfactual: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A trade-cost or tariff counterfactual against a solved baseline, with the equivalent variation of every state.",
        discussion: "Reads the prices and beta of a converged `hat solve` of the same configuration (--baseline DIR, its summary.json). unilateral multiplies the analysed country's import costs by --factor, global every pair's, bilateral:ISO one pair's; tariff and tariff:ISO levy --tariff on the analysed country's imports (on top of any existing tariff), the revenue rebated per capita (closure world-rate-rebate). The new equilibrium has one world R and beta fixed at the baseline's, from the baseline's wages and R. Then the equivalent variation of every state of the analysed country (--country, else [analysis] country, else the last country), the ACR benchmark and the change in R/w. Writes counterfactual.json and counterfactual.h5 into --out (default BASELINE/counterfactual-EXPERIMENT). Exit 3 when the equilibrium or some state's EV does not converge.")

    @OptionGroup var options: ConfigurationOptions

    @Option(help: ArgumentHelp("The baseline's output folder (summary.json of a converged hat solve of this configuration).", valueName: "dir"))
    var baseline: String

    @Option(help: ArgumentHelp("unilateral | global | bilateral:ISO | tariff | tariff:ISO", valueName: "experiment"))
    var experiment: String

    @Option(parsing: .unconditional, help: "Multiplier of the changed trade costs, > 0 (default 0.9: a 10 % cut); trade-cost experiments only.")
    var factor: Double?

    @Option(parsing: .unconditional, help: "Ad valorem tariff rate, > -1 (default 0.1: 10 %); tariff experiments only.")
    var tariff: Double?

    @Option(help: ArgumentHelp("The analysed country (default: [analysis] country, else the last country).", valueName: "ISO"))
    var country: String?

    @Option(name: .customLong("ev-start"), parsing: .unconditional,
            help: "Where the EV of a state has several roots (debt service above income), take the root nearest this multiplier (1.05 is the author's start; 1 takes the branch through no change).")
    var evStart: Double = 1.05

    @Option(name: .customLong("ev-values"),
            help: ArgumentHelp("author: the new values are the reported new equilibrium's (household tolerance 1e-10, as in the author's code); consistent: solved with the same fixed steps as the old-price values, so that no change gives an EV of exactly zero.", valueName: "author|consistent"))
    var evValues: String = "author"

    static let outputs = ["counterfactual.h5", "counterfactual.json"]

    func validate() throws {
        guard ["author", "consistent"].contains(evValues) else { throw ValidationError("--ev-values must be author or consistent") }
        guard evStart > 0, evStart.isFinite else { throw ValidationError("--ev-start must be a finite number > 0") }
    }

    func run() throws {
        let started = Date()
        var cfg = try options.load().configuration
        guard let parsed = TradeExperiment(experiment) else {
            throw ConfigError(file: "--experiment", key: "", problem: "\"\(experiment)\" is not one of unilateral, global, bilateral:ISO, tariff, tariff:ISO")
        }
        let exp = parsed.canonical(in: cfg.world)
        if exp.isTariff, factor != nil { throw ConfigError(file: "--factor", key: "", problem: "applies to trade-cost experiments, not \(exp.label) (use --tariff)") }
        if !exp.isTariff, tariff != nil { throw ConfigError(file: "--tariff", key: "", problem: "applies to tariff experiments, not \(exp.label) (use --factor)") }
        let factor = self.factor ?? 0.9, tariff = self.tariff ?? 0.1
        guard factor > 0, factor.isFinite else { throw ConfigError(file: "--factor", key: "", problem: "must be a finite number > 0 (got \(factor))") }
        guard tariff > -1, tariff.isFinite else { throw ConfigError(file: "--tariff", key: "", problem: "must be a finite number > -1 (got \(tariff))") }
        let world = cfg.world, m = world.count
        let c: Int
        if let country {
            guard let i = world.countryIndex(country) else {
                throw ConfigError(file: "--country", key: "", problem: "\"\(country)\" is not a country of this world (\(world.names.joined(separator: ", ")))")
            }
            c = i
        } else {
            c = cfg.analysis?.country ?? m - 1
        }
        guard m >= 2 else { throw ConfigError(file: cfg.path, key: "world.countries", problem: "a counterfactual needs at least two countries") }
        let base = try BaselineRun.read(directory: baseline, config: cfg)
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
        // The baseline household at its prices, re-solved cold at the reporting tolerance: the same bits as
        // the baseline's reporting evaluation (also cold), on every rank. Prices at which it cannot be solved
        // are bad input.
        let income = IncomeProcess(cfg.model.income)
        let old: AnalysedHousehold
        do {
            old = try AnalysedHousehold.solve(country: c, world: world, model: cfg.model, income: income, prices: base.prices,
                                              householdTolerance: cfg.equilibrium.reportingHouseholdTolerance,
                                              distributionTolerance: cfg.equilibrium.evaluation.distributionTolerance)
            guard old.masses.allSatisfy({ $0.isFinite }) else { throw AnalysisError("the stationary distribution is not finite") }
        } catch {
            throw ConfigError(file: (baseline as NSString).appendingPathComponent("summary.json"), key: "wages",
                              problem: "the household problem of \(world.names[c]) cannot be solved at the baseline's prices: \(error)")
        }
        if options.out == nil {
            cfg.outputDirectory = (baseline as NSString).appendingPathComponent("counterfactual-" + exp.label.replacingOccurrences(of: ":", with: "-"))
        }
        let folderFile = options.out == nil ? "--baseline" : "--out", folderKey = ""

        let comm = MPIEnvironment.world()
        let log = Logger(communicator: comm, prefix: "hat: ", sink: { Console.error($0) })
        let (folder, refusal) = try prepareOutputFolder(cfg.outputDirectory, outputs: Counterfactual.outputs, file: folderFile,
                                                        key: folderKey, comm: comm)
        if !refusal.isEmpty { fail(refusal, code: HatExit.badInput) }
        // Room for the outputs, before the long computation (checked again when they are written).
        var spaceProblem = ""
        if let folder {
            do { try folder.checkSpace(bytes: Counterfactual.outputBytes(countries: newWorld.count, states: old.stateCount)) } catch {
                spaceProblem = "writing outputs into \(cfg.outputDirectory): \(error); nothing was written"
            }
        }
        try comm.broadcast(&spaceProblem)
        if !spaceProblem.isEmpty {
            folder?.abandon()
            fail(spaceProblem, code: HatExit.io)
        }

        log("counterfactual \(exp.label)\(exp.isTariff ? String(format: ", tariff %g", tariff) : String(format: ", factor %g", factor)), analysed country \(world.names[c]), \(comm.size) rank(s)")
        do {
            try solve(cfg: cfg, experiment: exp, factor: factor, tariff: tariff, newWorld: newWorld, rebate: rebate, country: c,
                      base: base, old: old, income: income, comm: comm, log: log, folder: folder, started: started)
        } catch let failure as HatFailure {
            // Agreed by every rank (a refused or failed write): its own exit code, and the folders this run
            // made removed again.
            folder?.abandon()
            fail(failure.message, code: failure.code)
        } catch {
            folder?.abandon()
            if let failure = error as? CollectiveFailure, failure.agreed { fail("\(error)", code: 1) }
            if error is AnalysisError { fail("\(error)", code: 1) }
            Console.error("error: \(comm.isRoot ? "" : "rank \(comm.rank): ")\(error)")
            comm.abort(code: 1)
        }
    }

    /// counterfactual.h5: the new equilibrium as solution.h5 (four household arrays per country and the
    /// distribution), the welfare arrays, and a margin for the rest.
    static func outputBytes(countries: Int, states: Int) -> Double {
        let m = Double(countries), s = Double(states)
        return (4 * m * m * s + m * s + 6 * s) * 8 * 1.05 + 4 * 1048576
    }

    func solve(cfg: RunConfiguration, experiment exp: TradeExperiment, factor: Double, tariff: Double, newWorld: World,
               rebate: Bool, country c: Int, base: BaselineRun, old: AnalysedHousehold, income: IncomeProcess,
               comm: Communicator, log: Logger, folder: RunFolder?, started: Date) throws {
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
        eq.closure = rebate ? .worldRateRebate(beta: base.beta, rebating: newWorld.rebatingCountries) : .worldRate(beta: base.beta)
        eq.start = EquilibriumStart(wages: base.wages, rate: base.rates[0], beta: base.beta)
        if rebate {
            var x = MarketClosure.worldRate(beta: base.beta).unknowns(at: eq.start, countries: newWorld.count)
            x += eq.closure.rebating.map { base.transfers[$0] }
            eq.start.unknowns = x
        }
        t0 = Date()
        let evaluator = try WorldEvaluator(world: newWorld, model: cfg.model, communicator: comm, income: income)
        let result = try solveEquilibrium(evaluator: evaluator, options: eq, log: log)
        timings.append(("equilibrium", Date().timeIntervalSince(t0)))

        var ev: EquivalentVariation?
        var newShares: [Double]?
        if result.converged && !result.report.failed {
            let new = try AnalysedHousehold.gather(country: c, from: evaluator, prices: result.prices)
            newShares = importShares(new)
            t0 = Date()
            var settings = EquivalentVariation.Settings()
            settings.start = evStart
            let target: EquivalentVariation.Target = evValues == "consistent" ? .sameSteps(new.problem) : .values(new.exAnteValues)
            ev = try EquivalentVariation.compute(old: old.problem, target: target, settings: settings, communicator: comm)
            timings.append(("equivalent_variation", Date().timeIntervalSince(t0)))
            log(String(format: "equivalent variation of %d states in %.2f s (%d household solves, %d shared); %d not converged",
                       ev!.multipliers.count, Date().timeIntervalSince(t0), ev!.totalSolves, ev!.nodes.count, ev!.unconvergedCount))
        } else {
            log("the new equilibrium did not converge (\(result.reason.message)): no welfare computed")
        }

        // Outputs, staged and committed together.
        var runID = folder?.runID ?? ""
        try comm.broadcast(&runID)
        let dir = cfg.outputDirectory
        func staged(_ name: String) -> String { RunFolder.temporaryPath(in: dir, for: name, runID: runID) }
        if let folder { for name in Counterfactual.outputs { folder.track(name) } }
        var problem = ""
        if let folder {
            // counterfactual.h5: the new equilibrium as solution.h5 (four household arrays per country and the
            // distribution), the welfare arrays, and a margin for the rest.
            do { try folder.checkSpace(bytes: Counterfactual.outputBytes(countries: newWorld.count, states: old.stateCount)) } catch {
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
                                         attributes: ["description": "1 where the state's root was found to the value tolerance", "dimensions": "income_state, asset"])
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
                                         attributes: ["description": "the new ex-ante values the EV matches (--ev-values)", "dimensions": "income_state, asset"])
                }
            }
        } catch {
            problem = "\(error)"
        } }
        try commitStagedOutputs(Counterfactual.outputs, folder: folder, comm: comm, directory: dir, localProblem: problem,
                                note: "earlier outputs there are unchanged") {
            let json = counterfactualJSON(cfg: cfg, experiment: exp, factor: factor, tariff: tariff, rebate: rebate, country: c, base: base, result: result,
                                          oldHousehold: old, oldShares: oldShares, newShares: newShares,
                                          elasticity: elasticity, ev: ev, timings: timings, ranks: comm.size,
                                          wallSeconds: Date().timeIntervalSince(started), runID: runID)
            try writeDurably(json.rendered() + "\n", to: staged("counterfactual.json"))
        }
        folder?.unlock()
        let evConverged = ev.map { $0.unconvergedCount == 0 } ?? false
        log(String(format: "%@: R %.10f -> %.10f, wrote %@", result.converged ? "converged" : "NOT converged",
                   base.rates[0], result.prices.rates[0], dir))
        if result.converged && !evConverged { log("the EV of \(ev?.unconvergedCount ?? 0) state(s) did not converge (welfare/converged)") }
        if !result.converged || !evConverged {
            MPIEnvironment.finalize()
            Foundation.exit(HatExit.notConverged)
        }
    }

    func counterfactualJSON(cfg: RunConfiguration, experiment exp: TradeExperiment, factor: Double, tariff: Double, rebate: Bool,
                            country c: Int, base: BaselineRun,
                            result: EquilibriumResult, oldHousehold old: AnalysedHousehold, oldShares: [Double],
                            newShares: [Double]?, elasticity: Double, ev: EquivalentVariation?,
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
        if rebate { fields.append(("transfers_after", .numbers(result.prices.transfers))) }
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
            fields.append(("ev_household_solves", .integer(ev.totalSolves)))
            fields.append(("ev_household_steps", .integer(ev.steps)))
            fields.append(("ev_values", .string(evValues)))
            fields.append(("ev_start", .number(evStart)))
            var multipleMass = 0.0
            for k in ev.multipleRoots.indices where ev.multipleRoots[k] { multipleMass += old.masses[k] / total }
            fields.append(("ev_multiple_root_states", .integer(ev.multipleRoots.filter { $0 }.count)))
            fields.append(("ev_multiple_root_population_share", .number(multipleMass)))
            fields.append(("ev_value_tolerance", .number(EquivalentVariation.Settings().valueTolerance)))
            fields.append(("ev_income_groups_percent", .object([(0.2, 0.8, "p20_p80"), (0.5, 0.5, "p50_p50")].map { lo, hi, name in
                let g = cs.incomeGroups(low: lo, high: hi)
                // An empty group (few income states) has no mean: it is left out, not written as null.
                let groups = [("poor", g.poor), ("middle", g.middle), ("rich", g.rich)].filter { $0.1.share > 0 }
                return (name, .object(groups.map { ($0.0, JSON.number($0.1.welfare!)) }))
            })))
        }
        fields.append(("equilibrium", .object([
            ("status", .string(result.converged ? "converged" : "not-converged")),
            ("closure", .string(rebate ? Closure.worldRateRebate.rawValue : Closure.worldRate.rawValue)),
            ("iterations", .integer(result.iterations)), ("world_evaluations", .integer(result.evaluations)),
            ("strategy", .string(result.strategy)),
        ] + (result.residuals.allSatisfy { $0.isFinite } ? [("residual_max", JSON.number(result.residualMax))]
             : [("residual_note", JSON.string("no finite residual: the last trial prices are infeasible"))]))))
        fields.append(("baseline", .string(baseline)))
        for (name, seconds) in timings { fields.append(("\(name)_wall_seconds", .number(seconds))) }
        fields.append(("ranks", .integer(ranks)))
        fields.append(("wall_seconds", .number(wallSeconds)))
        fields.append(("run_id", .string(runID)))
        fields.append(("version", .string(hatVersion)))
        fields.append(("run", runJSON(config: cfg, runID: runID, ranks: ranks)))
        return JSON.object(fields).droppingNonFinite() ?? .object([])
    }
}
