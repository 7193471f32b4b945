import Equilibrium
import Foundation
import HATModel

/// The kind of TOML value a configuration key takes.
public enum ConfigValueType: String, Sendable, CaseIterable {
    case number
    case integer
    case boolean
    case string
    /// A string naming a file or folder, resolved against the configuration file's folder (or, given with
    /// `--set`, against the working folder).
    case path
    case numberArray = "number array"
    case stringArray = "string array"
    /// An array of rows of numbers.
    case matrix
    /// A number, or an array of rows of numbers.
    case numberOrMatrix = "number or matrix"
    /// An array of numbers, or a table `{ from, to, count }` of equally spaced numbers (a sweep's grid).
    case numberArrayOrRange = "number array or range"
    /// An array of `[a, b]` pairs of numbers (a sweep's explicit points).
    case numberPairs = "array of number pairs"
}

/// What a key's absence means.
public enum ConfigDefault: Sendable, Equatable {
    /// The key must be given.
    case required
    /// The key must be given in some cases, described (e.g. "required without data_dir").
    case conditional(String)
    /// The key may be left out; the text says what its absence means (nil: nothing to say).
    case optional(String?)
    case number(Double)
    case integer(Int)
    case boolean(Bool)
    case string(String)

    /// The default for `hat keys`.
    public var text: String {
        switch self {
        case .required: return "required"
        case .conditional(let when): return when
        case .optional(let meaning): return meaning ?? "optional"
        case .number(let d): return "\(d)"
        case .integer(let i): return "\(i)"
        case .boolean(let b): return "\(b)"
        case .string(let s): return "\"\(s)\""
        }
    }

    /// Whether a reader asking for the key fails when it is absent.
    public var isRequired: Bool {
        switch self {
        case .required, .conditional: return true
        default: return false
        }
    }
}

/// The values a key accepts beyond its type. A plain bound (`above`, `atLeast`, `between`, `nonZero`,
/// `finite`, `oneOf`) is machine-checkable: the sweep reader checks it from here, and a test holds the run
/// configuration's reader to it; a condition that involves other keys or the value's shape is `described`.
/// Every number of every key must be finite; for a number array the bound holds for every entry.
public enum ConfigRange: Sendable, Equatable {
    /// Any value of the key's type.
    case any
    /// Any finite number.
    case finite
    /// Greater than the bound.
    case above(Double)
    /// At least the bound.
    case atLeast(Double)
    /// Strictly between the bounds.
    case between(Double, Double)
    /// Finite and not zero.
    case nonZero
    /// One of these strings.
    case oneOf([String])
    /// Checked by the reader; the text says what holds.
    case described(String)

    /// A bound as written in the reference and in error messages: `0`, not `0.0`.
    public static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
    }

    /// The range for `hat keys` (empty for `any`: the type says it all).
    public var text: String {
        switch self {
        case .any: return ""
        case .finite: return "finite"
        case .above(let a): return "> \(Self.format(a))"
        case .atLeast(let a): return ">= \(Self.format(a))"
        case .between(let a, let b): return "in (\(Self.format(a)), \(Self.format(b)))"
        case .nonZero: return "not 0"
        case .oneOf(let words): return "one of " + words.map { "\"\($0)\"" }.joined(separator: ", ")
        case .described(let text): return text
        }
    }

    /// Whether a finite number lies in a numeric range (nil: not a numeric bound).
    public func admits(_ x: Double) -> Bool? {
        switch self {
        case .finite: return x.isFinite
        case .above(let a): return x.isFinite && x > a
        case .atLeast(let a): return x.isFinite && x >= a
        case .between(let a, let b): return x > a && x < b
        case .nonZero: return x.isFinite && x != 0
        case .any, .oneOf, .described: return nil
        }
    }
}

/// One configuration key: `[section] name`, its value type, its default, its valid values and a help
/// text for a newcomer (meaning and units).
public struct ConfigKey: Sendable, Equatable {
    public let section: String
    public let name: String
    public let type: ConfigValueType
    public let defaultValue: ConfigDefault
    public let range: ConfigRange
    public let help: String

    /// The dotted path used in error messages and by `--set` (`model.gamma`).
    public var dotted: String { "\(section).\(name)" }

    /// The valid values as text: the range, or what the type allows when any value of it is valid.
    public var rangeText: String {
        if case .any = range { return type == .boolean ? "true or false" : "any" }
        return range.text
    }
}

/// A TOML table of a configuration file and its keys, in documentation order.
public struct ConfigSection: Sendable {
    public let name: String
    /// A file without this table is an error ("missing section"); in a run configuration, unless `--set`
    /// gives one of its keys.
    public let required: Bool
    public let help: String
    public let keys: [ConfigKey]

    public func key(_ name: String) -> ConfigKey? { keys.first { $0.name == name } }
}

/// The two kinds of file whose keys the registry declares.
public enum ConfigFileKind: String, Sendable, CaseIterable {
    /// A run configuration: `hat solve|calibrate|counterfactual|planner|bench CONFIG` (keys also by `--set`).
    case run
    /// A sweep specification: `hat sweep SPEC` (jobs/*.toml).
    case sweep

    /// The heading of the kind in `hat keys` and CONFIGURATION.md.
    public var title: String {
        switch self {
        case .run: return "Run configuration (hat solve, calibrate, counterfactual, planner, policy, bench CONFIG)"
        case .sweep: return "Sweep specification (hat sweep SPEC)"
        }
    }

    /// What the kind is, for the reference.
    public var summary: String {
        switch self {
        case .run:
            return "One TOML file describes a run. `--set KEY=VALUE` overrides a key by its dotted name (`--set model.gamma=1.2`); the value is one TOML value. Relative paths are resolved against the configuration file's folder (given with `--set`, against the working folder)."
        case .sweep:
            return "One TOML file (e.g. jobs/sigma-gamma.toml) describes a sigma_eps x gamma sweep: every point is a `hat calibrate` run of the base configuration at its (sigma_eps, gamma), then the analysed country's household statistics. Relative paths are resolved against the specification's folder."
        }
    }

    public var sections: [ConfigSection] {
        switch self {
        case .run: return ConfigurationKeys.sections
        case .sweep: return ConfigurationKeys.sweepSections
        }
    }
}

/// Every key of a run configuration and of a sweep specification, declared once (CONTRACT.md
/// "Configuration", docs/SWEEPS-AND-SLURM.md). The readers' unknown-key checks, the `--set` key check, the
/// readers' defaults, the sweep reader's type and range checks, `hat keys` and docs/CONFIGURATION.md all come
/// from here; the run configuration's reader checks its ranges itself, and a test holds it to the ranges
/// declared here.
public enum ConfigurationKeys {
    /// The run configuration's tables (`ConfigFileKind.run`).
    public static let sections: [ConfigSection] = [
        section("model", required: true, "the household problem", [
            key("gamma", .number, .required, .above(0),
                "CRRA coefficient (relative risk aversion); 1 means log utility"),
            key("sigma_eps", .number, .required, .above(0),
                "scale of the taste shocks over source countries; country i uses sigma_eps * A_i^(1-gamma) (A_i its TFP)"),
            key("psi_slope", .number, .number(0), .finite,
                "slope of the home-quality shifter (psi tilde): choosing the home variety adds psi_slope * A_i^(1-gamma) times the log persistent income state to utility, so richer households favour home goods when > 0; 0: no shifter"),
            key("beta", .number, .required, .between(0, 1),
                "discount factor per period: fixed, or the first guess when the fixed-rate closure solves for it (equilibrium.initial_guess replaces it)"),
            key("phi", .number, .required, .atLeast(0),
                "borrowing limit in units of the country's TFP: assets a' >= -phi * A_i (0: no borrowing)"),
            key("amax", .number, .required, .described("> -phi"),
                "top of the asset grid in units of the country's TFP: assets a' <= amax * A_i"),
        ]),
        section("grid", required: true, "the asset grid", [
            key("assets", .integer, .required, .atLeast(2),
                "N_a, equally spaced points of the asset grid on [-phi * A_i, amax * A_i], ends included"),
        ]),
        section("income", required: false, "labour income, a persistent Rouwenhorst AR(1) mixed with an iid Rouwenhorst component (mean one)", [
            key("persistent_states", .integer, .integer(IncomeProcess.Parameters.baseline.persistentStates), .atLeast(1),
                "states of the persistent AR(1) component; the income states are persistent x transitory"),
            key("transitory_states", .integer, .integer(IncomeProcess.Parameters.baseline.transitoryStates), .atLeast(1),
                "states of the iid component"),
            key("rho", .number, .number(IncomeProcess.Parameters.baseline.rho), .between(-1, 1),
                "autocorrelation of the AR(1) component (of log income, per period)"),
            key("sigma_persistent", .number, .number(IncomeProcess.Parameters.baseline.sigmaPersistent), .atLeast(0),
                "standard deviation of the AR(1) innovations, in logs (the default is sqrt(0.039))"),
            key("sigma_transitory", .number, .number(IncomeProcess.Parameters.baseline.sigmaTransitory), .atLeast(0),
                "standard deviation of the iid component, in logs (the default is sqrt(0.0522))"),
        ]),
        section("world", required: true, "an explicit world (countries, tfp, labor, trade_costs), or one built from data_dir and parameters", [
            key("countries", .stringArray, .conditional("required without data_dir"),
                .described("at least one; unique, non-empty, without control characters, quotes, commas or semicolons"),
                "country names (M of them), in the order of every per-country array; not with data_dir"),
            key("tfp", .numberArray, .conditional("required without data_dir"), .above(0),
                "TFP A_i, one per country; not with data_dir"),
            key("labor", .numberArray, .conditional("required without data_dir"), .above(0),
                "labour endowment L_i (the mass of households), one per country; not with data_dir"),
            key("trade_costs", .matrix, .conditional("required without data_dir"), .described("every entry > 0, diagonal 1"),
                "iceberg trade costs d_ij, M x M, row = importer i, column = exporter j; not with data_dir"),
            key("tariffs", .matrix, .optional("zero"), .described("every entry > -1, diagonal 0"),
                "ad valorem tariffs t_ij (0.1 is 10 %), M x M, row = importer i, column = exporter j"),
            key("data_dir", .path, .optional("explicit world"), .described("a folder with the Eaton-Kortum data"),
                "Eaton-Kortum data folder (ek-data.csv, ...); builds the world together with parameters"),
            key("parameters", .path, .conditional("required with data_dir"), .described("a CSV file with header guess and 2(M - 1) + 10 finite rows (46 for the 19 countries)"),
                "parameter vector Theta of the data world, one value per row: M - 1 log TFPs, M - 1 importer effects theta_m, 6 distance bins, then the border, language, EC and EFTA dummies; needs data_dir"),
        ]),
        section("equilibrium", required: true, "the market closure and the solver", [
            key("closure", .string, .required, .oneOf(Closure.allCases.map(\.rawValue)),
                "world-rate: one world R clears the bond market at a fixed beta; fixed-rate: R fixed at fixed_rate and beta solved (the calibration closure); autarky: one R per country at a fixed beta; world-rate-rebate: world-rate with tariff revenue rebated lump sum"),
            key("rate", .number, .number(1.02), .above(0),
                "gross interest rate R: older name of fixed_rate (closure fixed-rate) or initial_rate (the others); not together with that key in one source"),
            key("fixed_rate", .number, .optional("rate"), .above(0),
                "gross interest rate R (1.01 is 1 %) held fixed by the fixed-rate closure; only with fixed-rate"),
            key("initial_rate", .number, .optional("rate"), .above(0),
                "first guess of the gross interest rate R for the closures that solve for it; not with fixed-rate"),
            key("initial_wages", .numberArray, .optional("all equal"), .above(0),
                "first guess of the wages, one per country (any scale: they are normalised to mean one); not with initial_guess"),
            key("initial_guess", .path, .optional("none"), .described("M - 1 wages > 0 summing to less than M, then beta in (0, 1)"),
                "the author's wage-guess file (header guess): M - 1 mean-one wages, then beta (which replaces model.beta)"),
            key("tolerance", .number, .number(1e-10), .above(0),
                "convergence: largest absolute market-clearing residual (goods and bonds)"),
            key("household_tolerance", .number, .number(1e-6), .above(0),
                "convergence of the household problem inside the market residuals: largest absolute change of the consumption policy"),
            key("reporting_household_tolerance", .number, .number(1e-10), .above(0),
                "household tolerance of the final evaluation whose objects are reported"),
            key("distribution_tolerance", .number, .number(1e-10), .above(0),
                "convergence of the stationary distribution: largest absolute change of a mass"),
            key("max_iterations", .integer, .integer(100), .atLeast(1),
                "iterations of each run of the hybrid root finder; the run stops not converged (exit 3) after them"),
            key("warm_start", .boolean, .boolean(false), .any,
                "start each household and distribution solve from the previous evaluation's solution: fewer iterations, but the residuals then depend on the path (tighten the household and distribution tolerances, see CONFIGURATION-GUIDE.md)"),
            key("jacobian_step", .number, .number(Double.ulpOfOne.squareRoot()), .between(0, 0.1),
                "relative forward-difference step of the root finder's Jacobian, times |x| (the default is sqrt(machine epsilon))"),
        ]),
        section("calibration", required: false, "the gravity-as-a-guide calibration of hat calibrate (HAT-SPEC 5.5-5.6)", [
            key("start", .path, .optional("world.parameters"), .described("a CSV file with header guess and 2(M - 1) + 10 finite rows (46 for the 19 countries)"),
                "start vector of the calibration, same layout as world.parameters; needs a data world"),
            key("shift_log_tfp", .number, .number(0), .finite, "added to every log TFP of the start vector (robustness starts)"),
            key("shift_theta_m", .number, .number(0), .finite, "added to every importer effect theta_m of the start vector"),
            key("shift_distance", .number, .number(0), .finite, "added to every distance-bin parameter of the start vector"),
            key("shift_dummies", .numberArray, .optional("zeros"), .described("4 finite numbers"),
                "added to the border, language, EC and EFTA parameters of the start vector, in that order"),
            key("tolerance", .number, .number(1e-8), .above(0),
                "convergence: largest absolute gap between the model's and the data's gravity moments (one per parameter, 46 for the 19 countries)"),
            key("max_iterations", .integer, .integer(50), .atLeast(1),
                "outer iterations (one Jacobian each) before the calibration stops not converged; may change on --resume"),
            key("checkpoint_every_seconds", .number, .number(300), .atLeast(0),
                "seconds between checkpoints inside a Jacobian, besides the one after every outer iteration (0: after every column batch); may change on --resume"),
            key("keep_checkpoints", .integer, .integer(2), .atLeast(1),
                "newest checkpoints kept in checkpoints/; may change on --resume"),
            key("jacobian_step", .number, .number(1e-5), .between(0, 0.1),
                "absolute forward-difference step of the implicit-function Jacobian, on the parameters and on log wages and log beta"),
        ]),
        section("analysis", required: false, "household analysis of one country after hat solve (HAT-SPEC 6.1-6.4)", [
            key("country", .string, .optional("no analysis"), .described("a country of the world"),
                "the analysed country, by name (case-insensitive), e.g. \"USA\"; the other keys of the table need it"),
            key("elasticities", .boolean, .boolean(true), .any,
                "micro (every state x source), bilateral and aggregate trade elasticities"),
            key("mpc", .boolean, .boolean(true), .any,
                "marginal propensities to consume out of a one-off transfer of 0.008"),
            key("cross_section", .boolean, .boolean(true), .any,
                "exact distribution-weighted statistics by expenditure quintile and income group"),
            key("simulate", .integer, .integer(0), .described("0, or 1000 to 100000000"),
                "households of a simulated panel, for comparison with the author's simulated figures (who used 100000); 0: no panel"),
            key("seed", .integer, .integer(3281978), .atLeast(0), "seed of the simulated panel's random numbers"),
        ]),
        section("parallel", required: false, "how hat solve spreads the work over MPI ranks (run control: results do not depend on it)", [
            key("grid_blocks", .string, .string("auto"), .oneOf(GridBlockMode.allCases.map(\.rawValue)),
                "auto: split countries into blocks of income states when ranks outnumber countries; on: always cut the country x income-state rows into equal-cost pieces; off: whole countries"),
            key("load_balance", .boolean, .boolean(true), .any,
                "rebuild the layout once from the first evaluation's measured cost (household iterations x grid size)"),
        ]),
        section("firms", required: false, "heterogeneous firms (Melitz-Chaney): with households = \"representative\" the static firm world, solved instead of the household model ([model], [grid], [income], [equilibrium] and world.tfp are then not used); with households = \"hat\" the supply side of the household model", [
            key("households", .string, .string("representative"), .oneOf(["representative", "hat"]),
                "who buys from the firms: representative, one consumer per country with CES demand over varieties; hat, HAT's households choosing among national composites, the firms competing inside each (pareto only; world.tfp sets the lower bounds)"),
            key("sigma", .number, .required, .above(1),
                "sigma, the elasticity of substitution between varieties"),
            key("distribution", .string, .string("pareto"), .oneOf(["pareto", "truncated-pareto", "lognormal"]),
                "the productivity distribution G_i of entrants: pareto G = 1 - (b/phi)^k; truncated-pareto, the same on [b, upper_bound]; lognormal, log phi normal with median b"),
            key("shape", .number, .conditional("required for pareto and truncated-pareto"), .described("> sigma - 1 for pareto, > 0 for truncated-pareto"),
                "the Pareto shape k (one for every country)"),
            key("lower_bound", .numberArray, .conditional("required without world.data_dir"), .above(0),
                "b_i, one per country: the Pareto lower bound, or the lognormal median; with households = hat it follows from world.tfp"),
            key("upper_bound", .numberArray, .conditional("required for truncated-pareto"), .described("each > lower_bound"),
                "phi_H,i, one per country: the top of the truncated Pareto (cutoffs above it give zero trade)"),
            key("lognormal_sigma", .number, .conditional("required for lognormal"), .above(0),
                "the standard deviation of log productivity (lognormal)"),
            key("entry", .string, .string("free"), .oneOf(["free", "fixed"]),
                "free: entrants pay entry_cost until expected profits are zero (Melitz); fixed: a given mass of potential firms (Chaney), whose profits are income of their home country"),
            key("entry_cost", .numberArray, .conditional("required with entry = free"), .above(0),
                "f_E,i, one per country, in units of the country's labour"),
            key("entry_mass", .numberArray, .conditional("required with entry = fixed"), .above(0),
                "the mass of potential firms of each country (entry = fixed)"),
            key("fixed_cost", .numberOrMatrix, .required, .described(">= 0; a matrix has a positive diagonal"),
                "f_ni, the fixed cost (in the exporter's labour) of serving market n: one number for every n != i (with domestic_fixed_cost), or an M x M matrix, row = importer n, column = exporter i, diagonal f_ii"),
            key("domestic_fixed_cost", .numberArray, .conditional("required when fixed_cost is a number"), .described("> 0 (>= 0 with households = hat)"),
                "f_ii, one per country: plant overhead and domestic market access; not with a fixed_cost matrix (with households = hat, 0 with fixed_cost = 0: no market fixed costs)"),
            key("differentiated_share", .number, .optional("no outside good"), .between(0, 1),
                "with an outside good (made one-for-one from labour, freely traded, so w = 1): the share beta of spending on the differentiated good; needs entry = free"),
        ]),
        section("output", required: false, "where the results go", [
            key("dir", .path, .optional("out/<config name>"), .described("not empty"),
                "output folder, relative to the configuration file's folder (--out replaces it)"),
        ]),
    ]

    /// The sweep specification's tables (`ConfigFileKind.sweep`).
    public static let sweepSections: [ConfigSection] = [
        section("sweep", required: true, "the points: a base calibration and the (sigma_eps, gamma) grid or list", [
            key("base", .path, .required, .described("a readable file"),
                "the hat calibrate configuration every point calibrates: a world built from data with the fixed-rate closure"),
            key("set", .stringArray, .optional("none"),
                .described("\"KEY=VALUE\" strings, KEY a run-configuration key other than model.sigma_eps, model.gamma and output.dir"),
                "--set overrides applied to the base at every point, e.g. [\"calibration.max_iterations=30\"]"),
            key("sigma_eps", .numberArrayOrRange, .conditional("required without points"),
                .described("finite numbers; a range has count 1 to 10000 (count 1 needs from == to); at most 10000 points in all"),
                "the grid's taste-shock scales: a list, e.g. [0.30, 0.34], or { from = 0.30, to = 0.36, count = 3 }, equally spaced with both ends; a point's value is checked as model.sigma_eps when the point runs; not with points"),
            key("gamma", .numberArrayOrRange, .conditional("required without points"),
                .described("finite numbers; a range has count 1 to 10000 (count 1 needs from == to); at most 10000 points in all"),
                "the grid's CRRA coefficients, a list or a range as sigma_eps; the points are sigma_eps x gamma, sigma_eps outer (index = i_sigma * n_gamma + i_gamma); not with points"),
            key("points", .numberPairs, .optional("the grid sigma_eps x gamma"), .described("1 to 10000 pairs of finite numbers"),
                "explicit [sigma_eps, gamma] pairs, in index order, instead of the grid; not with sigma_eps or gamma"),
            key("country", .string, .string("USA"), .described("a country of the base world"),
                "the analysed country, by name (case-insensitive): its households' elasticities and home shares are measured at every point"),
            key("calibrate_psi", .boolean, .boolean(false), .any,
                "also find model.psi_slope at every point, so that the rich-minus-poor home share gap equals targets.home_share_gap (the secant of [psi])"),
            key("out", .path, .optional("../out/sweep-<specification name>"), .described("not empty; a folder or nothing yet"),
                "the sweep folder, relative to the specification's folder (--out replaces it)"),
        ]),
        section("targets", required: false, "what the table's best point and --target aim at (income groups: poor below the 20th percentile, median 45th-55th, rich above the 80th)", [
            key("poor", .number, .number(SweepSpecification.Targets().poor), .finite,
                "trade elasticity of the poor households (trade-weighted, negative; Auer et al. 2022: -6.6)"),
            key("median", .number, .number(SweepSpecification.Targets().median), .finite,
                "trade elasticity of the median households (Auer et al. 2022: -4.4)"),
            key("home_share_gap", .number, .number(SweepSpecification.Targets().homeShareGap), .finite,
                "home share of the rich minus that of the poor, a difference of expenditure shares; used with calibrate_psi (0: equal home shares, as Borusyak and Jaravel find)"),
        ]),
        section("psi", required: false, "the secant on psi_slope when sweep.calibrate_psi is true; every step is a full calibration", [
            key("tolerance", .number, .number(SweepSpecification.PsiSettings().tolerance), .above(0),
                "convergence: |home share gap - targets.home_share_gap| at most this"),
            key("max_iterations", .integer, .integer(SweepSpecification.PsiSettings().maxIterations), .atLeast(1),
                "calibrations per point before the point is reported not converged"),
            key("step", .number, .number(SweepSpecification.PsiSettings().step), .nonZero,
                "the second psi_slope is the first (the base's, or the warm-start point's) plus this; later steps are secant steps of at most 0.5"),
        ]),
        section("target", required: false, "Newton's method of hat sweep SPEC --target on (sigma_eps, gamma)", [
            key("tolerance", .number, .number(SweepSpecification.TargetSettings().tolerance), .above(0),
                "convergence: the poor and the median elasticities both within this of targets.poor and targets.median"),
            key("max_iterations", .integer, .integer(SweepSpecification.TargetSettings().maxIterations), .atLeast(1),
                "Newton iterations (three evaluations, each a calibration, and any step halvings) before --target stops not converged"),
            key("relative_step", .number, .number(SweepSpecification.TargetSettings().relativeStep), .between(0, 0.5),
                "forward-difference step of the Jacobian, as a fraction of |sigma_eps| and of |gamma|"),
        ]),
    ]

    /// Every run-configuration key, section by section.
    public static let all: [ConfigKey] = sections.flatMap(\.keys)

    /// Every sweep-specification key, section by section.
    public static let sweepKeys: [ConfigKey] = sweepSections.flatMap(\.keys)

    private static let byDottedName: [ConfigFileKind: [String: ConfigKey]] = Dictionary(uniqueKeysWithValues: ConfigFileKind.allCases.map { kind in
        (kind, Dictionary(uniqueKeysWithValues: kind.sections.flatMap(\.keys).map { ($0.dotted, $0) }))
    })

    /// The declaration of a dotted key (`model.gamma`) of a run configuration, or nil when there is none.
    public static func key(_ dotted: String) -> ConfigKey? { key(dotted, in: .run) }

    /// The declaration of a dotted key in a file of `kind`, or nil when there is none.
    public static func key(_ dotted: String, in kind: ConfigFileKind) -> ConfigKey? { byDottedName[kind]?[dotted] }

    /// A table of a run configuration.
    public static func section(named name: String) -> ConfigSection? { section(named: name, in: .run) }

    public static func section(named name: String, in kind: ConfigFileKind) -> ConfigSection? {
        kind.sections.first { $0.name == name }
    }

    /// The output folder when neither `[output] dir` nor `--out` is given: `out/<config name>`, relative to
    /// the configuration file's folder.
    public static func defaultOutputDirectory(configFile: String) -> String {
        "out/" + URL(fileURLWithPath: configFile).deletingPathExtension().lastPathComponent
    }

    private typealias Declaration = (name: String, type: ConfigValueType, def: ConfigDefault, range: ConfigRange, help: String)

    private static func key(_ name: String, _ type: ConfigValueType, _ def: ConfigDefault, _ range: ConfigRange,
                            _ help: String) -> Declaration {
        (name, type, def, range, help)
    }

    private static func section(_ name: String, required: Bool, _ help: String, _ keys: [Declaration]) -> ConfigSection {
        ConfigSection(name: name, required: required, help: help,
                      keys: keys.map { ConfigKey(section: name, name: $0.name, type: $0.type, defaultValue: $0.def,
                                                 range: $0.range, help: $0.help) })
    }
}

// MARK: - Listing (`hat keys`) and reference (`hat keys --markdown`, docs/CONFIGURATION.md)

extension ConfigurationKeys {
    /// Every key of both kinds of file with type, default, valid values and help, grouped by kind and table.
    public static func listing() -> String {
        let keys = all + sweepKeys
        let nameWidth = keys.map(\.dotted.count).max()! + 2
        let typeWidth = ConfigValueType.allCases.map(\.rawValue.count).max()! + 2
        let defaultWidth = min(keys.map(\.defaultValue.text.count).max()! + 2, 28)
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count + 1), withPad: " ", startingAt: 0) }
        var lines: [String] = []
        for kind in ConfigFileKind.allCases {
            if !lines.isEmpty { lines.append("") }
            lines.append(kind.title)
            for s in kind.sections {
                lines.append("")
                lines.append("[\(s.name)]  \(s.help)\(s.required ? " (required table)" : "")")
                for k in s.keys {
                    lines.append("  " + pad(k.dotted, nameWidth) + pad(k.type.rawValue, typeWidth)
                                 + pad(k.defaultValue.text, defaultWidth) + k.help + "; valid: " + k.rangeText)
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The configuration reference, docs/CONFIGURATION.md: a generated header, then for each kind of file
    /// one table per TOML table (key, type, default, valid values, description).
    public static func markdown() -> String {
        func cell(_ s: String) -> String {
            s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "<", with: "&lt;")
        }
        var lines = [
            "<!-- Generated by `hat keys --markdown` from Sources/HATConfig/ConfigurationKeys.swift. Do not edit: run scripts/gen-config-docs.sh. -->",
            "",
            "# Configuration keys",
            "",
            "Every key of a run configuration and of a sweep specification, with its type, its default (what",
            "leaving the key out means), its valid values and what it does. This file is generated by",
            "`hat keys --markdown` from the key registry, `Sources/HATConfig/ConfigurationKeys.swift`, which the",
            "readers use too; do not edit it by hand. After changing a key, run `scripts/gen-config-docs.sh`; a test",
            "fails while this file is out of date. [CONFIGURATION-GUIDE.md](CONFIGURATION-GUIDE.md) explains how to",
            "write a configuration, [SWEEPS-AND-SLURM.md](SWEEPS-AND-SLURM.md) the sweeps.",
            "",
            "Every number must be finite, and a number key also takes an integer (`1` for `1.0`). For a number",
            "array, the valid values hold for every entry. An unknown table or key, a value of the wrong type or",
            "out of range is an error (exit 2) that names the file and the key.",
        ]
        for kind in ConfigFileKind.allCases {
            lines += ["", "## \(kind.title)", "", kind.summary]
            for s in kind.sections {
                lines += ["", "### `[\(s.name)]`: \(cell(s.help))", "", s.required ? "A required table." : "An optional table.", "",
                          "| key | type | default | valid values | description |", "|---|---|---|---|---|"]
                for k in s.keys {
                    let def: String
                    switch k.defaultValue {
                    case .required, .conditional, .optional: def = cell(k.defaultValue.text)
                    default: def = "`\(k.defaultValue.text)`"
                    }
                    lines.append("| `\(k.dotted)` | \(k.type.rawValue) | \(def) | \(cell(k.rangeText)) | \(cell(k.help)) |")
                }
            }
        }
        return lines.joined(separator: "\n")
    }
}
