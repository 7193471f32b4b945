import Analysis
import ArgumentParser
import Foundation
import HATConfig
import HATModel
import Parallel
import Runs

struct Policy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "The uniform import tariff of one country that maximises its households' welfare, for a rebate scheme of the revenue.",
        discussion: """
        Against a converged `hat solve` of the same configuration (--baseline DIR): each candidate tariff t of
        --country on all its imports is a counterfactual equilibrium (one world R, beta fixed at the
        baseline's, the revenue rebated by --rebate) and the equivalent variation of every state. W(t) is an
        objective of the multipliers lambda: utilitarian (population mean), bottom-quintile or quintile:K (the
        mean in an expenditure quintile). A grid on --range runs on --groups rank groups; then, for each
        objective, Brent's method refines the best grid point to --tolerance in t. Every finished candidate is
        kept in policy-candidates.json in the output folder: SIGTERM stops at the next candidate (exit 75) and
        --resume continues. Writes policy.json and policy.h5 (default folder BASELINE/policy-ISO-SCHEME).
        """)

    @OptionGroup var options: ConfigurationOptions

    @Option(help: ArgumentHelp("Output folder of a converged `hat solve` of this configuration.", valueName: "DIR"))
    var baseline: String

    @Option(help: ArgumentHelp("The tariff-levying country (default: [analysis] country, else the last country).", valueName: "ISO"))
    var country: String?

    @Option(help: ArgumentHelp("The policy instrument; tariff (a uniform ad valorem import tariff) is the one there is.", valueName: "tariff"))
    var instrument: String = "tariff"

    @Option(help: ArgumentHelp("Who receives the revenue: per-capita, labour-income (in proportion to w z), bottom-quintile (the poorest fifth by labour income) or discard (thrown away).", valueName: "scheme"))
    var rebate: RebateScheme = .perCapita

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Objectives, comma-separated: utilitarian, bottom-quintile, quintile:K (K 1 to 5).", valueName: "list"))
    var objective: String = "utilitarian"

    @Option(parsing: .unconditional, help: ArgumentHelp("Candidate tariffs, 0 <= LO < HI < 10 (default 0:0.6).", valueName: "LO:HI"))
    var range: String = "0:0.6"

    @Option(help: "Grid points on the range, ends included (3 to 101).")
    var grid: Int = 7

    @Option(help: "Rank groups that share the grid's candidates (each group solves its candidates on its ranks).")
    var groups: Int = 1

    @Option(parsing: .unconditional, help: "The optimum's bracket in t.")
    var tolerance: Double = 1e-4

    @Option(name: .customLong("ev-method"), help: ArgumentHelp("author or converged (the default: no change gives lambda = 1).", valueName: "author|converged"))
    var evMethod: EquivalentVariation.Method = .converged

    @Flag(help: "Continue from the candidates in the output folder's policy-candidates.json.")
    var resume = false

    var request: PolicyJob.Request {
        get throws {
            var request = PolicyJob.Request(baseline: baseline)
            request.country = country
            request.scheme = rebate
            request.objectives = try objective.split(separator: ",", omittingEmptySubsequences: false).map { part in
                guard let o = PolicyObjective(String(part)) else {
                    throw ValidationError(ConfigError(file: "--objective", key: "", problem: "\"\(part)\" is not one of utilitarian, bottom-quintile, quintile:1 to quintile:5").description)
                }
                return o
            }
            let ends = range.split(separator: ":", omittingEmptySubsequences: false)
            guard ends.count == 2, let lo = Double(ends[0]), let hi = Double(ends[1]) else {
                throw ValidationError(ConfigError(file: "--range", key: "", problem: "must be LO:HI, two numbers (got \(range))").description)
            }
            request.lower = lo; request.upper = hi
            request.gridPoints = grid
            request.groups = groups
            request.tolerance = tolerance
            request.evMethod = evMethod
            request.resume = resume
            request.outputFolderGiven = options.out != nil
            return request
        }
    }

    func validate() throws {
        guard instrument == "tariff" else {
            throw ValidationError(ConfigError(file: "--instrument", key: "", problem: "\"\(instrument)\" is not an instrument hat has (tariff)").description)
        }
        do { try request.check() } catch let e as ConfigError { throw ValidationError(e.description) }
    }

    func run() throws {
        let started = Date()
        StopSignal.install()
        let job = PolicyJob(loaded: try options.load(), request: try request)
        finish(try job.run(started: started))
    }
}

extension RebateScheme: ExpressibleByArgument {}
