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
        let names = ConfigurationKeys.all.map(\.dotted)
        XCTAssertEqual(Set(names).count, names.count, "a key is declared twice")
        for section in ConfigurationKeys.sections {
            XCTAssertFalse(section.help.isEmpty)
            for key in section.keys {
                XCTAssertEqual(key.section, section.name)
                XCTAssertFalse(key.help.isEmpty, key.dotted)
                XCTAssertEqual(ConfigurationKeys.key(key.dotted), key)
                // A literal default has the key's type.
                switch (key.defaultValue, key.type) {
                case (.number, .number), (.integer, .integer), (.boolean, .boolean), (.string, .string), (.string, .path),
                     (.required, _), (.conditional, _), (.optional, _):
                    break
                default:
                    XCTFail("\(key.dotted): default \(key.defaultValue) does not fit type \(key.type)")
                }
            }
        }
        XCTAssertNil(ConfigurationKeys.key("model.nonsense"))
        XCTAssertNil(ConfigurationKeys.key("gamma"))
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
        let text = ConfigurationKeys.listing(), table = ConfigurationKeys.markdownTable()
        for key in ConfigurationKeys.all {
            XCTAssertTrue(text.contains("  \(key.dotted) "), key.dotted)
            XCTAssertTrue(text.contains(key.help), key.dotted)
            XCTAssertTrue(table.contains("| `\(key.dotted)` | \(key.type.rawValue) |"), key.dotted)
        }
        XCTAssertEqual(table.split(separator: "\n").count, ConfigurationKeys.all.count + 2)
    }
}
