import Analysis
import ArgumentParser
import Equilibrium
import Foundation
import HATConfig
import HATModel
import Output
import Parallel

struct Counterfactual: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A trade-cost or tariff counterfactual against a solved baseline, with the equivalent variation of every state.",
        discussion: """
        Reads the baseline's summary.json (prices, beta) from --baseline DIR (a `hat solve` output folder of the
        same configuration), changes trade costs (unilateral: the analysed country's import costs; global:
        every pair; bilateral:ISO: one pair) by --factor, or adds a tariff --tariff on the analysed country's
        imports (tariff, tariff:ISO; revenue rebated per capita), and solves the new world-rate equilibrium
        with beta fixed, starting from the baseline's wages and R. Then the equivalent variation of every state
        of the analysed country (--country, else [analysis] country, else the last country), the ACR benchmark
        and the change in R/w. Writes counterfactual.json and counterfactual.h5 into --out (default:
        BASELINE/counterfactual-EXPERIMENT).
        """)

    @OptionGroup var options: ConfigurationOptions

    @Option(help: ArgumentHelp("The baseline's output folder (summary.json of a converged hat solve of this configuration).", valueName: "dir"))
    var baseline: String

    @Option(help: ArgumentHelp("unilateral | global | bilateral:ISO | tariff | tariff:ISO", valueName: "experiment"))
    var experiment: String

    @Option(help: "Multiplier of the changed trade costs (0.9: a 10 % cut).")
    var factor: Double = 0.9

    @Option(help: "Ad valorem tariff rate of the tariff experiments (0.1: 10 %).")
    var tariff: Double = 0.1

    @Option(help: ArgumentHelp("The analysed country (default: [analysis] country, else the last country).", valueName: "ISO"))
    var country: String?

    static let outputs = ["counterfactual.h5", "counterfactual.json"]

    func run() throws {
        let started = Date()
        var cfg = try options.load().configuration
        guard let exp = TradeExperiment(experiment) else {
            throw ConfigError(file: "--experiment", key: "", problem: "\"\(experiment)\" is not one of unilateral, global, bilateral:ISO, tariff, tariff:ISO")
        }
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
        if options.out == nil {
            cfg.outputDirectory = (baseline as NSString).appendingPathComponent("counterfactual-" + exp.label.replacingOccurrences(of: ":", with: "-"))
        }
        let folderFile = options.out == nil ? "--baseline" : "--out", folderKey = ""

        let comm = MPIEnvironment.world()
        let log = Logger(communicator: comm, prefix: "hat: ", sink: { Console.error($0) })
        var folder: RunFolder?
        var refusal = ""
        if comm.isRoot {
            do {
                let f = try RunFolder.prepare(cfg.outputDirectory, file: folderFile, key: folderKey)
                folder = f
                try f.lock(file: folderFile, key: folderKey)
                f.recover()
                try f.checkTargets(Counterfactual.outputs, file: folderFile, key: folderKey)
            } catch {
                refusal = "\(error)"
                folder?.abandon()
            }
        }
        try comm.broadcast(&refusal)
        if !refusal.isEmpty { fail(refusal, code: HatExit.badInput) }

        let income = IncomeProcess(cfg.model.income)
        log("counterfactual \(exp.label)\(exp.isTariff ? String(format: ", tariff %g", tariff) : String(format: ", factor %g", factor)), analysed country \(world.names[c]), \(comm.size) rank(s)")
        do {
            try solve(cfg: cfg, experiment: exp, newWorld: newWorld, country: c, base: base, income: income,
                      comm: comm, log: log, folder: folder, started: started)
        } catch {
            folder?.unlock()
            if let failure = error as? CollectiveFailure, failure.agreed { fail("\(error)", code: 1) }
            if error is AnalysisError { fail("\(error)", code: 1) }
            Console.error("error: \(comm.isRoot ? "" : "rank \(comm.rank): ")\(error)")
            comm.abort(code: 1)
        }
    }

    func solve(cfg: RunConfiguration, experiment exp: TradeExperiment, newWorld: World, country c: Int,
               base: BaselineRun, income: IncomeProcess, comm: Communicator, log: Logger, folder: RunFolder?,
               started: Date) throws {
        let names = cfg.world.names
        var timings: [(String, Double)] = []
        // The baseline household of the analysed country, re-solved cold at the reporting tolerance: the
        // same bits as the baseline's reporting evaluation (also cold), on every rank.
        let oldPrices = Prices(wages: base.wages, rates: base.rates, beta: base.beta, transfers: base.transfers)
        let old = try AnalysedHousehold.solve(country: c, world: cfg.world, model: cfg.model, income: income, prices: oldPrices,
                                              householdTolerance: cfg.equilibrium.reportingHouseholdTolerance,
                                              distributionTolerance: cfg.equilibrium.evaluation.distributionTolerance)
        // The baseline's aggregate elasticity of the analysed country, for the ACR benchmark.
        var t0 = Date()
        let micro = try MicroElasticities.compute(old, communicator: comm)
        let oldShares = importShares(old)
        let elasticity = micro.aggregate(bilateral: micro.bilateral(old), tradeShares: oldShares)
        timings.append(("baseline_elasticities", Date().timeIntervalSince(t0)))

        // The new equilibrium: one world R, β fixed at the baseline's, from the baseline's prices.
        var eq = cfg.equilibrium
        eq.closure = exp.isTariff ? .worldRateRebate(beta: base.beta, rebating: newWorld.rebatingCountries) : .worldRate(beta: base.beta)
        eq.start = EquilibriumStart(wages: base.wages, rate: base.rates[0], beta: base.beta)
        if exp.isTariff {
            var x = MarketClosure.worldRate(beta: base.beta).unknowns(at: eq.start, countries: newWorld.count)
            x += eq.closure.rebating.map { base.transfers[$0] }
            eq.start.unknowns = x
        }
        t0 = Date()
        let evaluator = WorldEvaluator(world: newWorld, model: cfg.model, communicator: comm, income: income)
        let result = try solveEquilibrium(evaluator: evaluator, options: eq, log: log)
        timings.append(("equilibrium", Date().timeIntervalSince(t0)))

        var ev: EquivalentVariation?
        var newShares: [Double]?
        if result.converged && !result.report.failed {
            let new = try AnalysedHousehold.gather(country: c, from: evaluator, prices: result.prices)
            newShares = importShares(new)
            t0 = Date()
            ev = try EquivalentVariation.compute(old: old.problem, target: new.exAnteValues, communicator: comm)
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
        var newConfig = cfg
        newConfig.world = newWorld
        newConfig.equilibrium = eq
        do {
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
                }
            }
        } catch {
            problem = "\(error)"
        }
        try commitStagedOutputs(Counterfactual.outputs, folder: folder, comm: comm, directory: dir, localProblem: problem,
                                note: "earlier outputs there are unchanged") {
            let json = counterfactualJSON(cfg: cfg, experiment: exp, country: c, base: base, result: result,
                                          oldHousehold: old, oldShares: oldShares, newShares: newShares,
                                          elasticity: elasticity, ev: ev, timings: timings, ranks: comm.size,
                                          wallSeconds: Date().timeIntervalSince(started), runID: runID)
            try writeDurably(json.rendered() + "\n", to: staged("counterfactual.json"))
        }
        folder?.unlock()
        log(String(format: "%@: R %.10f -> %.10f, wrote %@", result.converged ? "converged" : "NOT converged",
                   base.rates[0], result.prices.rates[0], dir))
        if !result.converged {
            MPIEnvironment.finalize()
            Foundation.exit(HatExit.notConverged)
        }
    }

    func counterfactualJSON(cfg: RunConfiguration, experiment exp: TradeExperiment, country c: Int, base: BaselineRun,
                            result: EquilibriumResult, oldHousehold old: AnalysedHousehold, oldShares: [Double],
                            newShares: [Double]?, elasticity: Double, ev: EquivalentVariation?,
                            timings: [(String, Double)], ranks: Int, wallSeconds: Double, runID: String) -> JSON {
        let names = cfg.world.names
        var fields: [(String, JSON)] = [
            ("status", .string(result.converged ? "converged" : "not-converged")),
            ("reason", .string(result.reason.message)),
            ("experiment", .string(exp.label)),
            ("factor", exp.isTariff ? .null : .number(factor)),
            ("tariff", exp.isTariff ? .number(tariff) : .null),
            ("country", .string(names[c])),
            ("countries", .array(names.map { JSON.string($0) })),
            ("beta", .number(base.beta)),
            ("R_before", .number(base.rates[0])),
            ("R_after", .number(result.prices.rates[0])),
            ("wages_before", .numbers(base.wages)),
            ("wages_after", .numbers(result.prices.wages)),
        ]
        if exp.isTariff { fields.append(("transfers_after", .numbers(result.prices.transfers))) }
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
            fields.append(("ev_max_abs_residual", .number(ev.residuals.map(abs).max()!)))
            fields.append(("ev_household_solves", .integer(ev.totalSolves)))
            fields.append(("ev_household_steps", .integer(ev.steps)))
            fields.append(("ev_value_tolerance", .number(EquivalentVariation.Settings().valueTolerance)))
            fields.append(("ev_income_groups_percent", .object([(0.2, 0.8, "p20_p80"), (0.5, 0.5, "p50_p50")].map { lo, hi, name in
                let g = cs.incomeGroups(low: lo, high: hi)
                return (name, .object([("poor", .number(g.poor.welfare!)), ("middle", .number(g.middle.welfare!)),
                                       ("rich", .number(g.rich.welfare!))]))
            })))
        }
        fields.append(("equilibrium", .object([
            ("closure", .string(exp.isTariff ? Closure.worldRateRebate.rawValue : Closure.worldRate.rawValue)),
            ("iterations", .integer(result.iterations)), ("world_evaluations", .integer(result.evaluations)),
            ("residual_max", result.residuals.allSatisfy { $0.isFinite } ? .number(result.residualMax) : .null),
            ("strategy", .string(result.strategy)),
        ])))
        fields.append(("baseline", .string(baseline)))
        for (name, seconds) in timings { fields.append(("\(name)_wall_seconds", .number(seconds))) }
        fields.append(("ranks", .integer(ranks)))
        fields.append(("wall_seconds", .number(wallSeconds)))
        fields.append(("run_id", .string(runID)))
        fields.append(("version", .string(hatVersion)))
        fields.append(("run", runJSON(config: cfg, runID: runID, ranks: ranks)))
        return .object(fields)
    }
}
