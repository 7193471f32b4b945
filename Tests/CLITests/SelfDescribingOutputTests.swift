import Foundation
import TestSupport
import XCTest

/// summary.json says what was run: the model, the grid, the closure's fixed parameter and the run itself,
/// so that a sweep point or a calibration step can be identified from the file alone.
final class SelfDescribingOutputTests: XCTestCase {
    func testSummaryRecordsModelGridClosureAndRun() throws {
        let dir = temporaryDirectory()
        let config = packageRoot.appendingPathComponent("configs/two-country.toml").path
        let sets = ["model.sigma_eps=0.3", "equilibrium.closure=fixed-rate", "equilibrium.fixed_rate=1.012", "grid.assets=40"]
        let r = try hat(["solve", config, "--out", dir] + sets.flatMap { ["--set", $0] })
        XCTAssertEqual(r.status, 0, r.stderr)
        let s = try readJSON(dir + "/summary.json")
        let model = try XCTUnwrap(s["model"] as? [String: Any])
        XCTAssertEqual(model["sigma_eps"] as? Double, 0.3)
        XCTAssertEqual(model["gamma"] as? Double, 1.5)
        XCTAssertNil(model["beta"], "β belongs to the closure, not the model")
        let grid = try XCTUnwrap(s["grid"] as? [String: Any])
        XCTAssertEqual(grid["assets"] as? Int, 40)
        XCTAssertEqual(grid["income_states"] as? Int, 10)
        XCTAssertEqual(s["closure_parameters"] as? [String: Double], ["R": 1.012])
        XCTAssertEqual(s["R"] as? [Double], [1.012, 1.012])
        let run = try XCTUnwrap(s["run"] as? [String: Any])
        XCTAssertEqual(run["overrides"] as? [String], sets)
        XCTAssertEqual(run["version"] as? String, s["version"] as? String)
        XCTAssertEqual(run["run_id"] as? String, s["run_id"] as? String)
        let version = try hat(["--version"])
        XCTAssertEqual(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines), s["version"] as? String,
                       "one version string")

        // World-rate holds β fixed: the closure parameter is β, and R is solved.
        let dir2 = temporaryDirectory()
        let r2 = try hat(["solve", config, "--out", dir2, "--set", "grid.assets=40"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        let s2 = try readJSON(dir2 + "/summary.json")
        XCTAssertEqual(s2["closure_parameters"] as? [String: Double], ["beta": 0.92])
        XCTAssertEqual(s2["beta"] as? Double, 0.92)
    }
}
