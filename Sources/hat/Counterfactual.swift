import Analysis
import ArgumentParser
import Foundation
import HATConfig
import HATModel
import Parallel
import Runs

struct Counterfactual: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A trade-cost or tariff counterfactual against a solved baseline, with the equivalent variation of every state.",
        discussion: "Reads the prices and beta of a converged `hat solve` of the same configuration (--baseline DIR, its summary.json). unilateral multiplies the analysed country's import costs by --factor, global every pair's, bilateral:ISO one pair's; tariff and tariff:ISO levy --tariff on the analysed country's imports (on top of any existing tariff), the revenue rebated per capita (closure world-rate-rebate), or as --rebate says. The new equilibrium has one world R and beta fixed at the baseline's, from the baseline's wages and R. Then the equivalent variation of every state of the analysed country (--country, else [analysis] country, else the last country), the ACR benchmark and the change in R/w. Writes counterfactual.json and counterfactual.h5 into --out (default BASELINE/counterfactual-EXPERIMENT). Exit 3 when the equilibrium or some state's EV does not converge.")

    @OptionGroup var options: ConfigurationOptions

    @Option(help: ArgumentHelp("The baseline's output folder (summary.json of a converged hat solve of this configuration).", valueName: "dir"))
    var baseline: String

    @Option(help: ArgumentHelp("unilateral | global | bilateral:ISO | tariff | tariff:ISO", valueName: "experiment"),
            transform: { text in
                guard let experiment = TradeExperiment(text) else {
                    throw ValidationError("not one of unilateral, global, bilateral:ISO, tariff, tariff:ISO")
                }
                return experiment
            })
    var experiment: TradeExperiment

    @Option(parsing: .unconditional, help: "Multiplier of the changed trade costs, > 0 (default 0.9: a 10 % cut); trade-cost experiments only.")
    var factor: Double?

    @Option(parsing: .unconditional, help: "Ad valorem tariff rate, > -1 (default 0.1: 10 %); tariff experiments only.")
    var tariff: Double?

    @Option(help: ArgumentHelp("The analysed country (default: [analysis] country, else the last country).", valueName: "ISO"))
    var country: String?

    @Option(name: .customLong("ev-start"), parsing: .unconditional,
            help: "Where the EV of a state has several roots (debt service above income), take the root nearest this multiplier (1.05 is the author's start; 1 takes the branch through no change).")
    var evStart: Double = 1.05

    @Option(name: .customLong("ev-method"),
            help: ArgumentHelp("author: HAT-SPEC 6.5 as written (every value solve stops by the 1e-12 policy rule from the cold start; the new values are the reported new equilibrium's); converged: both sides' values iterated to their fixed point, so that no change gives an EV of zero.", valueName: "author|converged"))
    var evMethod: EquivalentVariation.Method = .author

    @Option(help: ArgumentHelp("How tariff revenue is paid back: per-capita (the default), labour-income (in proportion to w z), bottom-quintile (to the poorest fifth by income) or discard (thrown away); only where there is revenue (a tariff experiment, or a baseline with rebated tariffs).", valueName: "scheme"))
    var rebate: RebateScheme?

    @Option(name: .customLong("fixed-cost-factor"), parsing: .unconditional,
            help: ArgumentHelp("Firm worlds: multiplier of the market fixed costs f_ni of the pairs the experiment changes, > 0 (default 1; with it, --factor defaults to 1).", valueName: "F"))
    var fixedCostFactor: Double?

    @Flag(help: "Also split every state's gains as in Proposition 2 (substitution, factor prices, asset holdings, distribution), by central differences along the experiment.")
    var decompose = false

    @Option(name: .customLong("decompose-step"), parsing: .unconditional,
            help: ArgumentHelp("The central difference's half-width in h, where h = 1 is the whole experiment (default 0.001); with --decompose only.", valueName: "h"))
    var decomposeStep: Double?

    var request: CounterfactualJob.Request {
        var request = CounterfactualJob.Request(baseline: baseline, experiment: experiment)
        request.factor = factor
        request.tariff = tariff
        request.country = country
        request.evStart = evStart
        request.evMethod = evMethod
        request.rebateScheme = rebate
        request.decomposeStep = decompose ? (decomposeStep ?? 1e-3) : decomposeStep
        request.outputFolderGiven = options.out != nil
        return request
    }

    func validate() throws {
        if decomposeStep != nil && !decompose {
            throw ValidationError(ConfigError(file: "--decompose-step", key: "", problem: "applies only with --decompose").description)
        }
        do { try request.check() } catch let e as ConfigError { throw ValidationError(e.description) }
    }

    func run() throws {
        let started = Date()
        if options.isFirmWorld {
            // Options of the household model's counterfactual have no meaning for a firm world.
            let householdOnly: [(String, Bool)] = [("--ev-method", evMethod != .author), ("--ev-start", evStart != 1.05),
                                                   ("--rebate", rebate != nil), ("--decompose", decompose)]
            if let (flag, _) = householdOnly.first(where: { $0.1 }) {
                throw ValidationError(ConfigError(file: flag, key: "", problem: "applies to the household model, not to a firm world").description)
            }
            var firm = FirmCounterfactualJob.Request(baseline: baseline, experiment: experiment)
            firm.factor = factor; firm.fixedCostFactor = fixedCostFactor; firm.tariff = tariff; firm.country = country
            firm.outputFolderGiven = options.out != nil
            let loaded = try options.loadFirmWorld()
            _ = try FirmCounterfactualJob.changedWorld(loaded.configuration.world, request: firm)
            let comm = MPIEnvironment.world()
            finish(try FirmCounterfactualJob(loaded: loaded, request: firm, communicator: comm, log: commandLogger(comm)).run(started: started))
            return
        }
        if fixedCostFactor != nil {
            throw ValidationError(ConfigError(file: "--fixed-cost-factor", key: "", problem: "applies to firm worlds ([firms]) only").description)
        }
        let job = CounterfactualJob(loaded: try options.load(), request: request)
        finish(try job.run(started: started))
    }
}

extension EquivalentVariation.Method: ExpressibleByArgument {}
