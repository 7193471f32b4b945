import Foundation
import HATConfig
import Output
import Parallel
import Runs
import Sweeps
import TestSupport
import XCTest

/// The run library without the command line: a solve job into a folder, the counterfactual's baseline check
/// on what it wrote, and the sweep's records and table.
final class RunsLibraryTests: XCTestCase {
    /// A solve through `SolveJob` writes both outputs; `BaselineRun.read` accepts them for the same
    /// configuration and refuses an edited fixed parameter, naming the file and the key.
    func testSolveJobWritesABaselineThatTheBaselineCheckReadsAndGuards() throws {
        let dir = temporaryDirectory() + "/base"
        var cfg = try ConfigurationLoader.load(path: configPath("two-country.toml"),
                                               overrides: ["grid.assets=30", "income.persistent_states=3"])
        cfg.outputDirectory = dir
        let comm = MPIEnvironment.world()
        let job = SolveJob(loaded: LoadedConfiguration(configuration: cfg, folderFile: "test", folderKey: "output.dir"),
                           checkpointDirectory: nil, resume: false, communicator: comm, log: .silent)
        XCTAssertEqual(try job.run(started: Date()), .converged)
        for name in SolveJob.outputs { XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + name), name) }

        let base = try BaselineRun.read(directory: dir, config: cfg)
        let path = dir + "/summary.json"
        let summary = try JSON.parse(String(contentsOfFile: path, encoding: .utf8))
        XCTAssertEqual(base.beta.bitPattern, summary["beta"]?.double?.bitPattern)
        XCTAssertEqual(base.wages.map(\.bitPattern), summary["wages"]?.doubles?.map(\.bitPattern))

        // closure_parameters must say what the configuration holds fixed, bit for bit: one ulp off is refused.
        let fixed = cfg.equilibrium.closure.parameter
        guard case .object(var fields) = summary, let k = fields.firstIndex(where: { $0.0 == "closure_parameters" }) else {
            return XCTFail("summary.json has no closure_parameters")
        }
        XCTAssertEqual(fields[k].1[fixed.name]?.double, fixed.value)
        fields[k].1 = .object([(fixed.name, .number(fixed.value.nextUp))])
        try (JSON.object(fields).rendered() + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try BaselineRun.read(directory: dir, config: cfg)) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.key, "closure_parameters.\(fixed.name)", "\(error)")
            XCTAssertEqual(e?.file, path)
        }
    }

    /// A sweep point's record survives its JSON file: every computed column, nothing that was not computed.
    func testPointRecordRoundTripsThroughItsJSON() throws {
        var r = PointRecord(index: 3, sigmaEps: 0.35, gamma: 1.4, status: .converged, reason: "")
        r.values = ["elasticity_poor": -6.25, "elasticity_median": -4.5, "beta": 0.93]
        r.startFrom = "points/0001/calibration"
        r.calibration = "points/0003/calibration"
        let back = try PointRecord(json: JSON.parse(r.json.rendered()))
        XCTAssertEqual(back.index, 3); XCTAssertEqual(back.sigmaEps, 0.35); XCTAssertEqual(back.gamma, 1.4)
        XCTAssertEqual(back.values, r.values)
        XCTAssertTrue(back.psiSlope.isNaN, "a point without psi has none after reading")
        XCTAssertFalse(r.json.rendered().contains("psi_slope"))
        XCTAssertEqual(back.startFrom, r.startFrom); XCTAssertEqual(back.calibration, r.calibration)
        XCTAssertTrue(back.finished)
        for (status, finished) in [(PointRecord.Status.stopped, false), (.missing, false), (.failed, true), (.notConverged, true)] {
            XCTAssertEqual(PointRecord(index: 0, sigmaEps: 1, gamma: 1, status: status, reason: "x").finished, finished, "\(status)")
        }
        XCTAssertThrowsError(try PointRecord(json: JSON.parse("{\"index\": 1}")))
    }

    /// The best point is the converged one nearest the targets (distance from the current targets, not the
    /// one stored); a not-converged point nearer still is passed over, and ties go to the lower index.
    func testSweepTableChoosesTheConvergedPointNearestTheTargets() throws {
        func point(_ k: Int, _ poor: Double, _ median: Double, _ status: PointRecord.Status = .converged) -> PointRecord {
            var r = PointRecord(index: k, sigmaEps: 0.3 + 0.01 * Double(k), gamma: 1.4, status: status, reason: "")
            r.values = ["elasticity_poor": poor, "elasticity_median": median, "target_distance": 99]
            return r
        }
        let targets = SweepSpecification.Targets(poor: -6, median: -4)
        let records = [point(0, -5, -3), point(1, -6, -4.1, .notConverged), point(2, -6.2, -4.1), point(3, -5.8, -3.9), point(4, -6.2, -4.1)]
        let table = SweepTable(records: records, targets: targets)
        let best = try XCTUnwrap(table.best)
        XCTAssertEqual(best.index, 2)
        XCTAssertEqual(best["target_distance"], (0.2 * 0.2 + 0.1 * 0.1).squareRoot(), accuracy: 1e-15)
        XCTAssertNil(SweepTable(records: [point(0, .nan, -4)], targets: targets).best)
    }
}
