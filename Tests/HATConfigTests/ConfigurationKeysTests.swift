import Equilibrium
import Foundation
import HATConfig
import HATModel
import TestSupport
import TOMLKit
import XCTest

/// The key registry (`ConfigurationKeys`) against the reader, `--set` and the shipped configurations.
final class ConfigurationKeysTests: XCTestCase {
    /// A value of the declared type, for `--set`.
    func sample(_ type: ConfigValueType) -> String {
        switch type {
        case .number: return "0.5"
        case .integer: return "3"
        case .boolean: return "true"
        case .string: return "autarky"
        case .path: return "\"/nonexistent/hat-keys-test\""
        case .numberArray: return "[1.0, 1.0]"
        case .stringArray: return "[\"A\", \"B\"]"
        case .matrix: return "[[0.0, 0.0], [0.0, 0.0]]"
        case .numberOrMatrix: return "1.5"
        case .numberArrayOrRange: return "{ from = 0.3, to = 0.4, count = 2 }"
        case .numberPairs: return "[[0.3, 1.4]]"
        }
    }

    func testEveryDeclaredKeyIsAcceptedBySet() throws {
        XCTAssertGreaterThan(ConfigurationKeys.all.count, 30)
        for key in ConfigurationKeys.all {
            do {
                _ = try ConfigurationLoader.load(path: configPath("two-country.toml"), overrides: ["\(key.dotted)=\(sample(key.type))"])
            } catch let e as ConfigError {
                // The value may be refused (a path that does not exist, a conflict), never the key.
                XCTAssertNotEqual(e.problem, "unknown configuration key", "\(key.dotted): \(e)")
            }
        }
        // Misspelt keys, including ones whose dotted parts only look right, are refused by name.
        for bad in ["model.nonsense", "model..gamma", ".model.gamma", "model.gamma.", "model", "gamma", "model.gamma.x"] {
            XCTAssertThrowsError(try ConfigurationLoader.load(path: configPath("two-country.toml"), overrides: ["\(bad)=1"])) {
                XCTAssertEqual($0 as? ConfigError, ConfigError(file: "--set", key: bad, problem: "unknown configuration key"))
            }
        }
    }

    func testShippedConfigurationsUseOnlyDeclaredKeys() throws {
        let dir = packageRoot.appendingPathComponent("configs").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".toml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 8)
        var used = Set<String>()
        for file in files {
            let table = try TOMLTable(string: try String(contentsOfFile: dir + "/" + file, encoding: .utf8))
            for section in table.keys {
                guard let t = table[section]?.table else { XCTFail("\(file): top-level key \(section) is not a table"); continue }
                XCTAssertNotNil(ConfigurationKeys.section(named: section), "\(file): [\(section)] is not declared")
                for key in t.keys {
                    XCTAssertNotNil(ConfigurationKeys.key("\(section).\(key)"), "\(file): \(section).\(key) is not declared")
                    used.insert("\(section).\(key)")
                }
            }
        }
        XCTAssertTrue(used.contains("model.sigma_eps") && used.contains("world.data_dir"), "\(used)")
    }

    func testDeclarationsAreConsistent() {
        for kind in ConfigFileKind.allCases {
            let names = kind.sections.flatMap(\.keys).map(\.dotted)
            XCTAssertEqual(Set(names).count, names.count, "\(kind): a key is declared twice")
            XCTAssertEqual(Set(kind.sections.map(\.name)).count, kind.sections.count, "\(kind): a table is declared twice")
            for section in kind.sections {
                XCTAssertFalse(section.help.isEmpty)
                for key in section.keys {
                    XCTAssertEqual(key.section, section.name)
                    XCTAssertFalse(key.help.isEmpty, key.dotted)
                    XCTAssertFalse(key.rangeText.isEmpty, key.dotted)
                    XCTAssertEqual(ConfigurationKeys.key(key.dotted, in: kind), key)
                    // A literal default has the key's type and lies in its range.
                    switch (key.defaultValue, key.type) {
                    case (.number, .number), (.integer, .integer), (.boolean, .boolean), (.string, .string), (.string, .path),
                         (.required, _), (.conditional, _), (.optional, _):
                        break
                    default:
                        XCTFail("\(key.dotted): default \(key.defaultValue) does not fit type \(key.type)")
                    }
                    switch key.defaultValue {
                    case .number(let d): XCTAssertNotEqual(key.range.admits(d), false, "\(key.dotted): default \(d) outside \(key.range.text)")
                    case .integer(let i): XCTAssertNotEqual(key.range.admits(Double(i)), false, "\(key.dotted): default \(i) outside \(key.range.text)")
                    case .string(let str):
                        if case .oneOf(let words) = key.range { XCTAssertTrue(words.contains(str), key.dotted) }
                    default: break
                    }
                    // A numeric bound only on numbers, a list of words only on strings.
                    switch key.range {
                    case .finite, .above, .atLeast, .between, .nonZero:
                        XCTAssertTrue([.number, .integer, .numberArray].contains(key.type), "\(key.dotted): \(key.range) on \(key.type)")
                    case .oneOf:
                        XCTAssertEqual(key.type, .string, key.dotted)
                    case .any, .described:
                        break
                    }
                }
            }
        }
        // The two kinds of file share no table: a dotted name says which file it belongs to.
        XCTAssertTrue(Set(ConfigurationKeys.sections.map(\.name)).isDisjoint(with: ConfigurationKeys.sweepSections.map(\.name)))
        XCTAssertEqual(ConfigurationKeys.all, ConfigFileKind.run.sections.flatMap(\.keys))
        XCTAssertEqual(ConfigurationKeys.sweepKeys, ConfigFileKind.sweep.sections.flatMap(\.keys))
        XCTAssertNil(ConfigurationKeys.key("model.nonsense"))
        XCTAssertNil(ConfigurationKeys.key("gamma"))
        XCTAssertNil(ConfigurationKeys.key("sweep.base"), "a sweep key is not a run-configuration key (--set)")
        XCTAssertNil(ConfigurationKeys.key("model.gamma", in: .sweep))
        XCTAssertNotNil(ConfigurationKeys.key("sweep.base", in: .sweep))
    }

    func testRangeTexts() {
        XCTAssertEqual(ConfigRange.above(0).text, "> 0")
        XCTAssertEqual(ConfigRange.atLeast(1).text, ">= 1")
        XCTAssertEqual(ConfigRange.between(-1, 1).text, "in (-1, 1)")
        XCTAssertEqual(ConfigRange.between(0, 0.1).text, "in (0, 0.1)")
        XCTAssertEqual(ConfigRange.nonZero.text, "not 0")
        XCTAssertEqual(ConfigRange.oneOf(["on", "off"]).text, "one of \"on\", \"off\"")
        XCTAssertEqual(ConfigurationKeys.key("model.gamma")?.rangeText, "> 0")
        XCTAssertEqual(ConfigurationKeys.key("equilibrium.warm_start")?.rangeText, "true or false")
        XCTAssertEqual(ConfigRange.between(0, 1).admits(1), false)
        XCTAssertEqual(ConfigRange.between(0, 1).admits(0.5), true)
        XCTAssertEqual(ConfigRange.atLeast(0).admits(0), true)
        XCTAssertEqual(ConfigRange.above(0).admits(0), false)
        XCTAssertEqual(ConfigRange.above(0).admits(.infinity), false)
        XCTAssertEqual(ConfigRange.finite.admits(.nan), false)
        XCTAssertNil(ConfigRange.described("> -phi").admits(1))
    }

    /// The run configuration's reader checks its ranges itself: it must refuse, naming the key, exactly the
    /// values outside every machine-checkable range declared (and so documented), and accept the values
    /// inside, bounds included where the range includes them.
    func testRunReaderEnforcesTheDeclaredRanges() throws {
        func formatted(_ d: Double, _ type: ConfigValueType) -> String {
            let text = type == .integer ? "\(Int(d))" : (d.isNaN ? "nan" : d.isInfinite ? (d > 0 ? "inf" : "-inf") : "\(d)")
            return type == .numberArray ? "[\(text), \(text)]" : text       // two-country.toml has two countries
        }
        var checked = 0
        for key in ConfigurationKeys.all {
            let outside: [Double], inside: [Double]
            switch key.range {
            case .finite: (outside, inside) = ([.nan, .infinity], [-3, 0, 3])
            case .above(let a): (outside, inside) = ([a, a - 1, .infinity], [a + 0.5])
            case .atLeast(let a): (outside, inside) = ([a - 1], [a, a + 1])
            case .between(let a, let b): (outside, inside) = ([a, b, b + 1], [(a + b) / 2])
            case .nonZero: (outside, inside) = ([0], [-0.5, 0.5])
            case .oneOf(let words):
                XCTAssertThrowsError(try load(key, "\"no-such-value\"")) { XCTAssertEqual(($0 as? ConfigError)?.key, key.dotted, "\($0)") }
                for w in words { XCTAssertNoThrow(try load(key, "\"\(w)\""), "\(key.dotted) = \(w)") }
                checked += 1
                continue
            case .any, .described: continue
            }
            for x in outside where key.type != .integer || x.isFinite {
                XCTAssertThrowsError(try load(key, formatted(x, key.type)), "\(key.dotted) = \(x) is outside \(key.rangeText)") {
                    XCTAssertEqual(($0 as? ConfigError)?.key, key.dotted, "\(key.dotted) = \(x): \($0)")
                }
            }
            for x in inside {
                XCTAssertNoThrow(try load(key, formatted(x, key.type)), "\(key.dotted) = \(x) is inside \(key.rangeText)")
            }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 30)
    }

    /// two-country.toml with `key` set to `value` (with the fixed-rate closure for its R); the calibration's
    /// keys on the small calibration (its shifts need a world built from data).
    func load(_ key: ConfigKey, _ value: String) throws {
        if key.section == "firms" && key.name == "households" && value == "\"hat\"" {
            // HAT's households: the household model's loader, on its two-country world with firms.
            _ = try ConfigurationLoader.load(path: configPath("melitz-hat-two-country.toml"), overrides: ["firms.households=\"hat\""])
            return
        }
        if key.section == "firms" {
            // A firm world (three countries): the file and overrides under which the key applies.
            var file = "melitz-appendix.toml", context: [String] = []
            switch (key.name, value) {
            case ("lognormal_sigma", _), ("distribution", "\"lognormal\""): file = "melitz-lognormal.toml"
            case ("entry_mass", _), ("entry", "\"fixed\""): file = "melitz-chaney.toml"
            case ("distribution", "\"truncated-pareto\""): context = ["firms.upper_bound=[9, 9, 9]"]
            case ("domestic_fixed_cost", _): context = ["firms.fixed_cost=1.5"]
            default: break
            }
            let entry = value.hasPrefix("[") ? String(value.dropFirst().split(separator: ",")[0]) : value
            let three = "[\(entry), \(entry), \(entry)]"
            _ = try ConfigurationLoader.loadFirmWorld(path: configPath(file), overrides: context + ["\(key.dotted)=\(key.type == .numberArray ? three : value)"])
            return
        }
        let file = key.section == "calibration" ? "ek19-calibrate-small.toml" : "two-country.toml"
        let context = key.dotted == "equilibrium.fixed_rate" ? ["equilibrium.closure=fixed-rate"] : []
        _ = try ConfigurationLoader.load(path: configPath(file), overrides: context + ["\(key.dotted)=\(value)"])
    }

    /// Keys left out take the registry's defaults.
    func testLeftOutKeysTakeTheDeclaredDefaults() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/minimal.toml"
        try """
        [model]
        gamma = 1.5
        sigma_eps = 0.25
        beta = 0.92
        phi = 0.5
        amax = 8.0

        [grid]
        assets = 50

        [world]
        countries = ["A", "B"]
        tfp = [1.0, 1.0]
        labor = [1.0, 1.0]
        trade_costs = [[1.0, 1.5], [1.5, 1.0]]

        [equilibrium]
        closure = "world-rate"
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try ConfigurationLoader.load(path: path)
        func number(_ key: String) -> Double {
            guard case .number(let d) = ConfigurationKeys.key(key)?.defaultValue else { XCTFail(key); return .nan }
            return d
        }
        func integer(_ key: String) -> Int {
            guard case .integer(let i) = ConfigurationKeys.key(key)?.defaultValue else { XCTFail(key); return -1 }
            return i
        }
        XCTAssertEqual(config.model.psiSlope, number("model.psi_slope"))
        XCTAssertEqual(config.model.income, IncomeProcess.Parameters.baseline)
        XCTAssertEqual(config.model.income.persistentStates, integer("income.persistent_states"))
        XCTAssertEqual(config.model.income.rho, number("income.rho"))
        XCTAssertEqual(config.model.income.sigmaTransitory, number("income.sigma_transitory"))
        let eq = config.equilibrium
        XCTAssertEqual(eq.start.rate, number("equilibrium.rate"))
        XCTAssertNil(eq.start.wages)
        XCTAssertEqual(eq.tolerance, number("equilibrium.tolerance"))
        XCTAssertEqual(eq.evaluation.householdTolerance, number("equilibrium.household_tolerance"))
        XCTAssertEqual(eq.reportingHouseholdTolerance, number("equilibrium.reporting_household_tolerance"))
        XCTAssertEqual(eq.evaluation.distributionTolerance, number("equilibrium.distribution_tolerance"))
        XCTAssertEqual(eq.maxIterations, integer("equilibrium.max_iterations"))
        XCTAssertEqual(eq.evaluation.warmStart, false)
        XCTAssertEqual(ConfigurationKeys.key("equilibrium.warm_start")?.defaultValue, .boolean(false))
        XCTAssertEqual(eq.jacobianStep, number("equilibrium.jacobian_step"))
        XCTAssertEqual(config.world.tariffs, [0, 0, 0, 0])
        XCTAssertEqual(config.outputDirectory, URL(fileURLWithPath: dir + "/out/minimal").standardizedFileURL.path)
        // The values the contract documents.
        XCTAssertEqual(number("equilibrium.rate"), 1.02)
        XCTAssertEqual(number("equilibrium.tolerance"), 1e-10)
        XCTAssertEqual(number("equilibrium.household_tolerance"), 1e-6)
        XCTAssertEqual(integer("equilibrium.max_iterations"), 100)
        XCTAssertEqual(number("equilibrium.jacobian_step"), Double.ulpOfOne.squareRoot())
    }

    func testListingsNameEveryKey() {
        let text = ConfigurationKeys.listing(), reference = ConfigurationKeys.markdown()
        for kind in ConfigFileKind.allCases {
            XCTAssertTrue(text.contains("\n" + kind.title + "\n") || text.hasPrefix(kind.title + "\n"), kind.title)
            XCTAssertTrue(reference.contains("\n## \(kind.title)\n"), kind.title)
            for section in kind.sections {
                XCTAssertTrue(text.contains("\n[\(section.name)]  \(section.help)"), section.name)
                XCTAssertTrue(reference.contains("\n### `[\(section.name)]`: "), section.name)
                for key in section.keys {
                    let line = text.split(separator: "\n").first { $0.hasPrefix("  \(key.dotted) ") }
                    XCTAssertNotNil(line, key.dotted)
                    XCTAssertTrue(line?.hasSuffix(key.help + "; valid: " + key.rangeText) ?? false, "\(line ?? "")")
                    XCTAssertTrue(line?.contains(" \(key.type.rawValue) ") ?? false, "\(line ?? "")")
                    XCTAssertTrue(reference.contains("| `\(key.dotted)` | \(key.type.rawValue) | "), key.dotted)
                }
            }
        }
        // One row per key, each with five cells.
        let rows = reference.split(separator: "\n").filter { $0.hasPrefix("| `") }
        XCTAssertEqual(rows.count, ConfigurationKeys.all.count + ConfigurationKeys.sweepKeys.count)
        for row in rows {
            XCTAssertEqual(row.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count, 6, String(row))
        }
        XCTAssertTrue(reference.hasPrefix("<!-- Generated by `hat keys --markdown`"), reference)
        XCTAssertTrue(reference.contains("| `equilibrium.tolerance` | number | `1e-10` | > 0 | "), reference)
        XCTAssertTrue(reference.contains("| `sweep.country` | string | `\"USA\"` | "), reference)
        XCTAssertTrue(reference.contains("| `output.dir` | path | out/&lt;config name> | "), reference)
    }
}
