import Foundation
import TestSupport
import XCTest

/// `hat sweep` without SLURM: bad specifications, failing points as rows, resumption, rank groups, --target.
/// (The job-array mode and its equality with rank groups are in SlurmTests.)
final class SweepCommandTests: XCTestCase {
    /// A specification in `dir` on the small calibration (absolute base path), with `body` after [sweep]'s base.
    func writeSpec(_ dir: String, _ body: String, name: String = "spec.toml", set extra: [String] = []) throws -> String {
        let path = dir + "/" + name
        let sets = ["calibration.shift_log_tfp=0", "calibration.shift_distance=0", "calibration.shift_dummies=[0, 0, 0, 0]"] + extra
        let text = """
        [sweep]
        base = "\(configPath("ek19-calibrate-small.toml"))"
        set = [\(sets.map { "\"\($0)\"" }.joined(separator: ", "))]
        out = "\(dir)/out"
        \(body)
        """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testBadSpecificationsAreExit2NamingTheKey() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(String, String)] = [
            ("sigma_eps = [0.3]\ngamma = [1.4]\nbogus = 1", "sweep.bogus"),
            ("sigma_eps = [0.3]", "sweep.gamma"),
            ("sigma_eps = [0.3, \"x\"]\ngamma = [1.4]", "sweep.sigma_eps"),
            ("sigma_eps = { from = 0.3, to = 0.4 }\ngamma = [1.4]", "sweep.sigma_eps"),
            ("points = [[0.3, 1.4]]\ngamma = [1.4]", "sweep.points"),
            ("points = [[0.3]]", "sweep.points"),
            ("points = [[0.3, 1.4]]\n[psi]\nstep = 0", "psi.step"),
            ("points = [[0.3, 1.4]]\n[target]\nrelative_step = -1", "target.relative_step"),
            ("points = [[0.3, 1.4]]\n[nonsense]\na = 1", "nonsense"),
            ("points = [[0.3, 1.4]]\ncalibrate_psi = \"yes\"", "sweep.calibrate_psi"),
        ]
        for (k, (body, key)) in cases.enumerated() {
            let spec = try writeSpec(dir, body, name: "bad\(k).toml")
            let r = try hat(["sweep", spec, "--list"])
            XCTAssertEqual(r.status, 2, "\(body): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(spec) && r.stderr.contains(key), "\(body): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        }
        // A missing base configuration, a point that does not exist, conflicting modes.
        let noBase = dir + "/nobase.toml"
        try "[sweep]\nbase = \"missing.toml\"\npoints = [[0.3, 1.4]]\n".write(toFile: noBase, atomically: true, encoding: .utf8)
        var r = try hat(["sweep", noBase, "--list"])
        XCTAssertEqual(r.status, 2); XCTAssertTrue(r.stderr.contains("sweep.base"), r.stderr)
        // A base that is no calibration, an analysed country that is not in the world.
        let solveBase = dir + "/solvebase.toml"
        try "[sweep]\nbase = \"\(configPath("two-country.toml"))\"\npoints = [[0.3, 1.4]]\nout = \"\(dir)/x\"\n".write(toFile: solveBase, atomically: true, encoding: .utf8)
        r = try hat(["sweep", solveBase])
        XCTAssertEqual(r.status, 2); XCTAssertTrue(r.stderr.contains("world.data_dir") && r.stderr.contains("two-country.toml"), r.stderr)
        let country = try writeSpec(dir, "points = [[0.3, 1.4]]\ncountry = \"XYZ\"", name: "country.toml")
        r = try hat(["sweep", country, "--point", "0"])
        XCTAssertEqual(r.status, 2); XCTAssertTrue(r.stderr.contains("sweep.country"), r.stderr)
        let badSet = try writeSpec(dir, "points = [[0.3, 1.4]]", name: "badset.toml", set: ["model.phi=-1"])
        r = try hat(["sweep", badSet, "--point", "0"])
        XCTAssertEqual(r.status, 2); XCTAssertTrue(r.stderr.contains("model.phi"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x"), "nothing written on bad input")
        let good = try writeSpec(dir, "sigma_eps = { from = 0.3, to = 0.4, count = 3 }\ngamma = [1.3, 1.4]")
        r = try hat(["sweep", good, "--list"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 7, r.stdout)          // header + 3 x 2 points
        let last = r.stdout.split(separator: "\n").last!.split(separator: " ").map(String.init)
        XCTAssertEqual(last, ["5", "0.4", "1.4"], r.stdout)                            // σε outer, γ inner
        r = try hat(["sweep", good, "--point", "6"])
        XCTAssertEqual(r.status, 2); XCTAssertTrue(r.stderr.contains("has 6 points"), r.stderr)
        r = try hat(["sweep", good, "--point", "1", "--collect"])
        XCTAssertEqual(r.status, 2, r.stderr); XCTAssertTrue(r.stderr.contains("--point") && r.stderr.contains("--collect"), r.stderr)
        r = try hat(["sweep", good, "--collect", "--target"])                           // one mode at a time
        XCTAssertEqual(r.status, 2, r.stderr); XCTAssertTrue(r.stderr.contains("--collect") && r.stderr.contains("--target"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        r = try hat(["sweep", good, "--groups", "2"])                                  // 2 groups on 1 rank
        XCTAssertEqual(r.status, 2, r.stderr); XCTAssertTrue(r.stderr.contains("--groups"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out/points/0001"), "nothing written on bad input")
    }

    /// A folder holds the points of one specification: another one is refused before anything runs.
    func testAFolderOfAnotherSweepIsRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try writeSpec(dir, "points = [[0.3, 0.0], [0.3, 1.4]]", name: "a.toml")
        var r = try hat(["sweep", a, "--collect"])
        XCTAssertEqual(r.status, 2, r.stderr)                                         // nothing to collect yet
        XCTAssertTrue(r.stderr.contains("no specification.json"), r.stderr)
        r = try hat(["sweep", a, "--point", "0"])                                      // γ = 0: a failed row at once
        XCTAssertEqual(r.status, 3, r.stderr)
        r = try hat(["sweep", a, "--collect"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stdout.contains("failed: ") && r.stdout.contains("missing: not run"), r.stdout)
        let h5 = try runProcess("/usr/bin/h5dump", ["-d", "/sweep/psi_slope", dir + "/out/sweep.h5"])
        XCTAssertFalse(h5.stdout.lowercased().contains("nan"), h5.stdout)                // no NaN in the file
        let b = try writeSpec(dir, "points = [[0.3, 1.5]]", name: "b.toml")
        r = try hat(["sweep", b, "--point", "0"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("sweep.out") && r.stderr.contains("different sweep"), r.stderr)
    }

    /// Bad parameters and non-convergence are rows with their reasons; the other points finish, and a
    /// second run does not compute finished points again.
    func testFailingPointsAreRowsAndTheOthersFinish() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // γ = 0 is not a model; at σε 0.25, γ 1.6 the small grid's calibration has no root (its gap stalls).
        let spec = try writeSpec(dir, "points = [[0.3, 1.35], [0.3, 0.0], [0.25, 1.6]]", set: ["calibration.max_iterations=12"])
        let r = try mpirun(ranks: 2, ["sweep", spec])
        XCTAssertEqual(r.status, 3, r.stderr)
        let rows = try readSweepTable(dir + "/out/sweep.csv")
        XCTAssertEqual(rows.map { $0["status"]! }, ["converged", "failed", "not-converged"], "\(rows)")
        XCTAssertTrue(rows[1]["reason"]!.contains("model.gamma"), rows[1]["reason"]!)
        XCTAssertTrue(rows[2]["reason"]!.contains("iteration limit"), rows[2]["reason"]!)
        XCTAssertEqual(rows[2]["outer_iterations"], "12.0")
        XCTAssertEqual(rows[1]["elasticity_poor"], "", "nothing computed is written as a number")
        let poor = Double(rows[0]["elasticity_poor"]!)!, median = Double(rows[0]["elasticity_median"]!)!
        XCTAssertTrue(poor < median && median < 0, "\(poor) \(median)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/sweep.h5"))
        let json = try readJSON(dir + "/out/sweep.json")
        XCTAssertEqual(json["best"] as? Int, 0)
        for file in ["sweep.json", "points/0001/point.json", "points/0002/point.json"] {
            let text = try String(contentsOfFile: dir + "/out/" + file, encoding: .utf8)
            XCTAssertFalse(text.contains("null") || text.lowercased().contains("nan"), "\(file): \(text)")
        }
        let inspect = try hat(["inspect", dir + "/out/sweep.h5"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("hat sweep table") && inspect.stdout.contains("not-converged         1"), inspect.stdout)
        // Again: every point finished before, nothing is computed, the same table.
        let before = try String(contentsOfFile: dir + "/out/sweep.csv", encoding: .utf8)
        let again = try hat(["sweep", spec], timeout: 60)
        XCTAssertEqual(again.status, 3, again.stderr)
        XCTAssertEqual(again.stderr.components(separatedBy: "not computed again").count - 1, 3, again.stderr)
        XCTAssertEqual(try String(contentsOfFile: dir + "/out/sweep.csv", encoding: .utf8), before)
    }

    /// A point killed in the middle of its calibration resumes from its checkpoint when it runs again and
    /// gives the same bits as a point that was never interrupted.
    func testAKilledPointResumesToTheSameBits() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try writeSpec(dir, "points = [[0.32, 1.4]]")
        let killed = try runProcess(hatBinary, ["sweep", spec, "--point", "0"], environment: ["HAT_FAULT": "boundary:3"])
        XCTAssertEqual(killed.status, 9, "SIGKILL expected: \(killed.stderr)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out/points/0000/point.json"))
        let resumed = try hat(["sweep", spec, "--point", "0"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming from"), resumed.stderr)
        let fresh = try hat(["sweep", spec, "--point", "0", "--out", dir + "/fresh"])
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        let a = try String(contentsOfFile: dir + "/out/points/0000/calibration/parameters.csv", encoding: .utf8)
        let b = try String(contentsOfFile: dir + "/fresh/points/0000/calibration/parameters.csv", encoding: .utf8)
        XCTAssertEqual(a, b)
        let pa = try readJSON(dir + "/out/points/0000/point.json"), pb = try readJSON(dir + "/fresh/points/0000/point.json")
        for key in ["elasticity_poor", "elasticity_median", "elasticity_rich", "home_share_gap", "aggregate_elasticity"] {
            XCTAssertEqual(pa[key] as? Double, pb[key] as? Double, key)
        }
    }

    /// --target on the small specification converges, and a calibration started afresh at the (σε, γ) it
    /// returns has the target elasticities.
    func testTargetConvergesAndIsConfirmedByAFreshCalibration() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = packageRoot.appendingPathComponent("jobs/sigma-gamma-small.toml").path
        let r = try mpirun(ranks: 2, ["sweep", spec, "--target", "--out", dir + "/target"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let result = try readJSON(dir + "/target/target/target.json")
        XCTAssertEqual(result["status"] as? String, "converged")
        let sigma = result["sigma_eps"] as! Double, gamma = result["gamma"] as! Double
        XCTAssertLessThanOrEqual(result["max_abs_residual"] as! Double, 1e-4)
        // The re-check: a one-point sweep at (σε, γ) from the base start, in another folder.
        let check = try writeSpec(dir, "points = [[\(sigma), \(gamma)]]\n[targets]\npoor = -6.6\nmedian = -4.4", name: "check.toml")
        let c = try hat(["sweep", check, "--point", "0"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let point = try readJSON(dir + "/out/points/0000/point.json")
        XCTAssertEqual(point["start_from"] as? String, "base")
        XCTAssertEqual(point["elasticity_poor"] as! Double, -6.6, accuracy: 2e-4)
        XCTAssertEqual(point["elasticity_median"] as! Double, -4.4, accuracy: 2e-4)
    }

    /// calibrate_psi: ψ̃ found by the secant sets the rich-minus-poor home share gap to its target, and a
    /// calibration with ψ̃ fixed at that value, started afresh, has the same gap.
    func testCalibratePsiHitsTheHomeShareGap() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try writeSpec(dir, "points = [[0.34, 1.45]]\ncalibrate_psi = true\n[targets]\nhome_share_gap = 0.0\n[psi]\ntolerance = 1e-6")
        let r = try hat(["sweep", spec, "--point", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let point = try readJSON(dir + "/out/points/0000/point.json")
        let psi = point["psi_slope"] as! Double
        XCTAssertEqual(point["home_share_gap"] as! Double, 0, accuracy: 1e-6)
        XCTAssertGreaterThanOrEqual(point["psi_iterations"] as! Double, 2)
        XCTAssertNotEqual(psi, 0.725)
        let history = try readJSON(dir + "/out/points/0000/psi.json")["history"] as! [[String: Double]]
        XCTAssertEqual(history.first?["psi_slope"], 0.725)                             // the base's psi_slope
        XCTAssertEqual(history.last?["psi_slope"], psi)
        // Killed during the second ψ̃ calibration (after psi.json got its first entry), resumed on 2 ranks: the
        // replayed history and the resumed calibrations give the same ψ̃, bit for bit.
        let killedSpec = try String(contentsOfFile: spec, encoding: .utf8).replacingOccurrences(of: "\(dir)/out", with: "\(dir)/killed")
        try killedSpec.write(toFile: dir + "/killed.toml", atomically: true, encoding: .utf8)
        let killed = try runProcess("/usr/bin/mpirun", ["-np", "2", hatBinary, "sweep", dir + "/killed.toml", "--point", "0"],
                                    environment: ["HAT_FAULT": "boundary:9"])
        XCTAssertNotEqual(killed.status, 0, killed.stderr)
        let partial = try readJSON(dir + "/killed/points/0000/psi.json")["history"] as! [[String: Double]]
        XCTAssertEqual(partial.count, 1, "killed after the first psi step")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/killed/points/0000/point.json"))
        let resumed = try mpirun(ranks: 2, ["sweep", dir + "/killed.toml", "--point", "0"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try readJSON(dir + "/killed/points/0000/point.json")["psi_slope"] as? Double, psi)
        // ψ̃ fixed at the result, from the base start, in another folder: the same gap.
        let check = try writeSpec(dir, "points = [[0.34, 1.45]]", name: "check.toml", set: ["model.psi_slope=\(psi)"])
        let text = try String(contentsOfFile: check, encoding: .utf8).replacingOccurrences(of: "\(dir)/out", with: "\(dir)/check")
        try text.write(toFile: check, atomically: true, encoding: .utf8)
        let c = try hat(["sweep", check, "--point", "0"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let fixed = try readJSON(dir + "/check/points/0000/point.json")
        XCTAssertEqual(fixed["psi_slope"] as? Double, psi)
        XCTAssertEqual(fixed["home_share_gap"] as! Double, 0, accuracy: 1e-6)
    }
}
