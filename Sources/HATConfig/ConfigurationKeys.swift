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

/// One configuration key: `[section] name`, its value type, its default and a one-line help text that
/// gives the valid range.
public struct ConfigKey: Sendable, Equatable {
    public let section: String
    public let name: String
    public let type: ConfigValueType
    public let defaultValue: ConfigDefault
    public let help: String

    /// The dotted path used in error messages and by `--set` (`model.gamma`).
    public var dotted: String { "\(section).\(name)" }
}

/// A TOML table of the configuration and its keys, in documentation order.
public struct ConfigSection: Sendable {
    public let name: String
    /// A file without this table is an error ("missing section"), unless `--set` gives one of its keys.
    public let required: Bool
    public let help: String
    public let keys: [ConfigKey]

    public func key(_ name: String) -> ConfigKey? { keys.first { $0.name == name } }
}

/// Every configuration key, declared once (CONTRACT.md "Configuration"). The reader's unknown-key check,
/// the `--set` key check, the reader's defaults and `hat keys` all come from here; the range checks stay
/// in the reader, the help texts here state them.
public enum ConfigurationKeys {
    public static let sections: [ConfigSection] = [
        section("model", required: true, "the household problem", [
            key("gamma", .number, .required, "CRRA coefficient, 1 means log utility; > 0"),
            key("sigma_eps", .number, .required, "taste-shock scale; country i uses sigma_eps * A_i^(1-gamma); > 0"),
            key("psi_slope", .number, .number(0), "home quality shifter slope, scaled by A_i^(1-gamma); finite"),
            key("beta", .number, .required, "discount factor (fixed, or the initial guess when the closure solves for it; initial_guess replaces it); in (0, 1)"),
            key("phi", .number, .required, "borrowing limit, times A_i; >= 0"),
            key("amax", .number, .required, "top of the asset grid, times A_i; > -phi"),
        ]),
        section("grid", required: true, "the asset grid", [
            key("assets", .integer, .required, "N_a, points of the asset grid; >= 2"),
        ]),
        section("income", required: false, "persistent Rouwenhorst AR(1) mixed with an iid Rouwenhorst component, mean one", [
            key("persistent_states", .integer, .integer(IncomeProcess.Parameters.baseline.persistentStates),
                "states of the persistent component; >= 1"),
            key("transitory_states", .integer, .integer(IncomeProcess.Parameters.baseline.transitoryStates),
                "states of the iid component; >= 1"),
            key("rho", .number, .number(IncomeProcess.Parameters.baseline.rho),
                "persistence of the AR(1) component; in (-1, 1)"),
            key("sigma_persistent", .number, .number(IncomeProcess.Parameters.baseline.sigmaPersistent),
                "standard deviation of the AR(1) innovations (default sqrt(0.039)); >= 0"),
            key("sigma_transitory", .number, .number(IncomeProcess.Parameters.baseline.sigmaTransitory),
                "standard deviation of the iid component (default sqrt(0.0522)); >= 0"),
        ]),
        section("world", required: true, "an explicit world, or one built from data_dir + parameters", [
            key("countries", .stringArray, .conditional("required without data_dir"),
                "country names; non-empty, unique, at least one; not with data_dir"),
            key("tfp", .numberArray, .conditional("required without data_dir"),
                "TFP A_i, one per country; > 0; not with data_dir"),
            key("labor", .numberArray, .conditional("required without data_dir"),
                "labour L_i, one per country; > 0; not with data_dir"),
            key("trade_costs", .matrix, .conditional("required without data_dir"),
                "d_ij, M x M, row = importer, column = exporter; > 0, diagonal 1; not with data_dir"),
            key("tariffs", .matrix, .optional("zero"),
                "ad valorem tariffs t_ij, M x M, row = importer; > -1, diagonal 0"),
            key("data_dir", .path, .optional(nil),
                "Eaton-Kortum data folder (ek-data.csv, ...); builds the world together with parameters"),
            key("parameters", .path, .conditional("required with data_dir"),
                "46-entry parameter vector file (header guess): log TFPs, theta_m, distance, dummies; needs data_dir"),
        ]),
        section("equilibrium", required: true, "the closure and the solver", [
            key("closure", .string, .required,
                "one of " + Closure.allCases.map(\.rawValue).joined(separator: ", ")
                    + " (one world R at a fixed beta; R fixed at fixed_rate and beta solved; one R per country at a fixed beta)"),
            key("rate", .number, .number(1.02),
                "older name of fixed_rate (closure fixed-rate) or initial_rate (the others); not together with that key in one source; > 0"),
            key("fixed_rate", .number, .optional("rate"),
                "R held fixed by the fixed-rate closure (only with fixed-rate); > 0"),
            key("initial_rate", .number, .optional("rate"),
                "first guess of R for world-rate and autarky (not with fixed-rate); > 0"),
            key("initial_wages", .numberArray, .optional("all equal"),
                "initial wages, one per country (any scale); > 0; not with initial_guess"),
            key("initial_guess", .path, .optional(nil),
                "the author's wage-guess file: M - 1 mean-one wages, then beta (replaces model.beta); wages > 0, beta in (0, 1)"),
            key("tolerance", .number, .number(1e-10), "max-abs market-clearing residual at convergence; > 0"),
            key("household_tolerance", .number, .number(1e-6),
                "max-abs change of the consumption policy inside the market residuals; > 0"),
            key("reporting_household_tolerance", .number, .number(1e-10),
                "household tolerance of the evaluation whose objects are reported; > 0"),
            key("distribution_tolerance", .number, .number(1e-10), "max-abs change of the distribution; > 0"),
            key("max_iterations", .integer, .integer(100), "iterations of each hybrid run; >= 1"),
            key("warm_start", .boolean, .boolean(false),
                "start each household and distribution solve from the previous evaluation's solution; true or false"),
            key("jacobian_step", .number, .number(Double.ulpOfOne.squareRoot()),
                "relative forward-difference step of the Jacobian (default sqrt(machine epsilon)); in (0, 0.1)"),
        ]),
        section("calibration", required: false, "hat calibrate: gravity as a guide (HAT-SPEC 5.5-5.6)", [
            key("start", .path, .optional("world.parameters"),
                "46-entry start vector file (header guess), same layout as world.parameters"),
            key("shift_log_tfp", .number, .number(0), "added to every log TFP of the start vector (robustness starts); finite"),
            key("shift_theta_m", .number, .number(0), "added to every importer effect theta_m of the start vector; finite"),
            key("shift_distance", .number, .number(0), "added to every distance-bin parameter of the start vector; finite"),
            key("shift_dummies", .numberArray, .optional("zeros"),
                "4 numbers added to the border, language, EC and EFTA parameters of the start vector; finite"),
            key("tolerance", .number, .number(1e-8), "max-abs gap between the model's and the data's 46 moments; > 0"),
            key("max_iterations", .integer, .integer(50), "outer iterations; >= 1 (may change on --resume)"),
            key("checkpoint_every_seconds", .number, .number(300),
                "also checkpoint inside a Jacobian after this many seconds; >= 0 (0: after every column batch; may change on --resume)"),
            key("keep_checkpoints", .integer, .integer(2), "checkpoints kept in checkpoints/; >= 1 (may change on --resume)"),
            key("jacobian_step", .number, .number(1e-5),
                "absolute forward-difference step on the parameters and on log wages and log beta; in (0, 0.1)"),
        ]),
        section("analysis", required: false, "household analysis of one country after hat solve (HAT-SPEC 6.1-6.4)", [
            key("country", .string, .optional("no analysis"),
                "the analysed country: a name of the world's countries (case-insensitive), e.g. \"USA\""),
            key("elasticities", .boolean, .boolean(true), "micro (every state x source), bilateral and aggregate trade elasticities; true or false"),
            key("mpc", .boolean, .boolean(true), "marginal propensities to consume out of a one-off transfer of 0.008; true or false"),
            key("cross_section", .boolean, .boolean(true),
                "exact distribution-weighted statistics by expenditure quintile and income group; true or false"),
            key("simulate", .integer, .integer(0),
                "draws of a simulated panel for comparison with simulated figures (the author used 100000); 0 = none, else 1000 to 100000000"),
            key("seed", .integer, .integer(3281978), "seed of the simulated panel; >= 0"),
        ]),
        section("parallel", required: false, "how hat solve spreads the work over MPI ranks (run control: results do not depend on it)", [
            key("grid_blocks", .string, .string("auto"),
                "\"auto\" (split countries into blocks of income states when ranks outnumber countries), \"on\" (always cut the country x income-state rows into equal-cost pieces) or \"off\" (whole countries)"),
            key("load_balance", .boolean, .boolean(true),
                "rebuild the layout once from the first evaluation's measured cost (household iterations x grid size); true or false"),
        ]),
        section("output", required: false, "where the results go", [
            key("dir", .path, .optional("out/<config name>"),
                "output folder, relative to the configuration file (--out replaces it); not empty"),
        ]),
    ]

    /// Every key, section by section.
    public static let all: [ConfigKey] = sections.flatMap(\.keys)

    private static let byDottedName: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: all.map { ($0.dotted, $0) })

    /// The declaration of a dotted key (`model.gamma`), or nil when there is none.
    public static func key(_ dotted: String) -> ConfigKey? { byDottedName[dotted] }

    public static func section(named name: String) -> ConfigSection? { sections.first { $0.name == name } }

    /// The output folder when neither `[output] dir` nor `--out` is given: `out/<config name>`, relative to
    /// the configuration file's folder.
    public static func defaultOutputDirectory(configFile: String) -> String {
        "out/" + URL(fileURLWithPath: configFile).deletingPathExtension().lastPathComponent
    }

    private static func key(_ name: String, _ type: ConfigValueType, _ def: ConfigDefault, _ help: String) -> (String, ConfigValueType, ConfigDefault, String) {
        (name, type, def, help)
    }

    private static func section(_ name: String, required: Bool, _ help: String,
                                _ keys: [(String, ConfigValueType, ConfigDefault, String)]) -> ConfigSection {
        ConfigSection(name: name, required: required, help: help,
                      keys: keys.map { ConfigKey(section: name, name: $0.0, type: $0.1, defaultValue: $0.2, help: $0.3) })
    }
}

// MARK: - Listing (`hat keys`)

extension ConfigurationKeys {
    /// Every key with type, default and help, grouped by section.
    public static func listing() -> String {
        let nameWidth = all.map(\.dotted.count).max()! + 2
        let typeWidth = ConfigValueType.allCases.map(\.rawValue.count).max()! + 2
        let defaultWidth = min(all.map(\.defaultValue.text.count).max()! + 2, 28)
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count + 1), withPad: " ", startingAt: 0) }
        var lines: [String] = []
        for s in sections {
            if !lines.isEmpty { lines.append("") }
            lines.append("[\(s.name)]  \(s.help)\(s.required ? " (required table)" : "")")
            for k in s.keys {
                lines.append("  " + pad(k.dotted, nameWidth) + pad(k.type.rawValue, typeWidth)
                             + pad(k.defaultValue.text, defaultWidth) + k.help)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Every key as one Markdown table (key, type, default, description).
    public static func markdownTable() -> String {
        func cell(_ s: String) -> String {
            s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "<", with: "&lt;")
        }
        var lines = ["| key | type | default | description |", "|---|---|---|---|"]
        for k in all {
            let def: String
            switch k.defaultValue {
            case .required, .conditional, .optional: def = cell(k.defaultValue.text)
            default: def = "`\(k.defaultValue.text)`"
            }
            lines.append("| `\(k.dotted)` | \(k.type.rawValue) | \(def) | \(cell(k.help)) |")
        }
        return lines.joined(separator: "\n")
    }
}
