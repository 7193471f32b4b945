import Equilibrium
import Foundation
import HATConfig
import TestSupport
import XCTest

/// `equilibrium.fixed_rate` (the R of fixed-rate), `equilibrium.initial_rate` (the first guess of the
/// others) and the older `equilibrium.rate` (whichever of the two the closure uses) reach the closure and
/// the start as documented, and conflicts are errors naming the key.
final class RateKeyTests: XCTestCase {
    let file = configPath("two-country.toml")     // has `rate = 1.02` and closure world-rate

    func load(_ sets: [String]) throws -> RunConfiguration { try ConfigurationLoader.load(path: file, overrides: sets) }

    func testEachSpellingReachesTheClosureOrTheStart() throws {
        let worldRate = try load(["equilibrium.initial_rate=1.03"])         // --set beats the file's `rate`
        XCTAssertEqual(worldRate.equilibrium.closure, .worldRate(beta: 0.92))
        XCTAssertEqual(worldRate.equilibrium.start.rate, 1.03)
        XCTAssertEqual(worldRate.rateKey, "equilibrium.initial_rate")

        let older = try load([])
        XCTAssertEqual(older.equilibrium.start.rate, 1.02)
        XCTAssertEqual(older.rateKey, "equilibrium.rate")

        let fixed = try load(["equilibrium.closure=fixed-rate", "equilibrium.fixed_rate=1.011"])
        XCTAssertEqual(fixed.equilibrium.closure, .fixedRate(rate: 1.011))
        XCTAssertEqual(fixed.equilibrium.start.beta, 0.92, "model.beta is fixed-rate's first guess")
        XCTAssertEqual(fixed.rateKey, "equilibrium.fixed_rate")

        let fixedOlder = try load(["equilibrium.closure=fixed-rate"])
        XCTAssertEqual(fixedOlder.equilibrium.closure, .fixedRate(rate: 1.02), "the older rate is fixed-rate's R")

        let autarky = try load(["equilibrium.closure=autarky", "equilibrium.initial_rate=1.01"])
        XCTAssertEqual(autarky.equilibrium.closure, .autarky(beta: 0.92))
        XCTAssertEqual(autarky.equilibrium.start.rate, 1.01)
    }

    func testConflictsNameTheKey() throws {
        func refusal(_ sets: [String]) -> ConfigError? {
            do { _ = try load(sets); return nil } catch { return error as? ConfigError }
        }
        // The other closure's key.
        XCTAssertEqual(refusal(["equilibrium.fixed_rate=1.01"])?.key, "equilibrium.fixed_rate")
        XCTAssertEqual(refusal(["equilibrium.closure=fixed-rate", "equilibrium.initial_rate=1.01"])?.key,
                       "equilibrium.initial_rate")
        // Both spellings from the same source.
        XCTAssertEqual(refusal(["equilibrium.rate=1.01", "equilibrium.initial_rate=1.01"])?.key, "equilibrium.rate")
        // Values are checked under the key that was used.
        XCTAssertEqual(refusal(["equilibrium.initial_rate=-1"])?.key, "equilibrium.initial_rate")
        XCTAssertEqual(refusal(["equilibrium.closure=fixed-rate", "equilibrium.fixed_rate=0"])?.key, "equilibrium.fixed_rate")
        XCTAssertEqual(refusal(["equilibrium.closure=fixed-rate", "equilibrium.fixed_rate=0"])?.file, "--set")

        // Both in one file.
        let dir = temporaryDirectory()
        let text = try String(contentsOfFile: file, encoding: .utf8)
            .replacingOccurrences(of: "rate = 1.02", with: "rate = 1.02\ninitial_rate = 1.03")
            .replacingOccurrences(of: "dir = \"../out/two-country\"", with: "dir = \"out\"")
        let path = dir + "/both.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ConfigurationLoader.load(path: path)) { error in
            XCTAssertEqual((error as? ConfigError)?.key, "equilibrium.rate")
            XCTAssertEqual((error as? ConfigError)?.file, path)
        }
    }
}
