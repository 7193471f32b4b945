// swift-tools-version:5.10
import Foundation
import PackageDescription

// Numerical kernels are compiled for the CPU that builds them (HPC users build on the nodes they run on).
// Set HAT_TARGET_CPU (e.g. `haswell` for any AVX2/FMA x86-64, `znver4`, `skylake-avx512`) to override;
// see docs/PERFORMANCE.md, "Build options". -vector-library=LIBMVEC lets LLVM call glibc's vectorised exp/log.
let targetCPU = ProcessInfo.processInfo.environment["HAT_TARGET_CPU"] ?? "native"
// HAT_CHECKED=1 keeps preconditions and array bounds checks in the kernels (-O instead of -Ounchecked):
// scripts/test.sh runs the unit tests in such a build too.
let optimisation = ProcessInfo.processInfo.environment["HAT_CHECKED"] == "1" ? "-O" : "-Ounchecked"
let kernelFlags: [SwiftSetting] = [
    .unsafeFlags([optimisation, "-target-cpu", targetCPU,
                  "-Xcc", "-fno-math-errno", "-Xllvm", "-vector-library=LIBMVEC"],
                 .when(configuration: .release)),
]
let mvec: [LinkerSetting] = [.linkedLibrary("mvec")]

let package = Package(
    name: "hat",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "hat", targets: ["hat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C libraries through header shims (PLATFORM-NOTES.md).
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c"),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-openmpi"),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas"),

        .target(name: "Parallel", dependencies: ["CMPI"]),
        .target(name: "Checksum"),
        .target(name: "Storage", dependencies: ["CHDF5", "Parallel"]),
        .target(name: "HATModel", dependencies: ["COpenBLAS"], swiftSettings: kernelFlags, linkerSettings: mvec),
        .target(name: "Solvers", dependencies: ["COpenBLAS"], swiftSettings: kernelFlags),
        .target(name: "Equilibrium", dependencies: ["HATModel", "Solvers", "Parallel"], swiftSettings: kernelFlags),
        .target(name: "Gravity", dependencies: ["COpenBLAS", "Solvers", "HATModel"]),
        // Heterogeneous firms (Melitz–Chaney): the static firm world, its counterfactuals (FIRMS-SPEC).
        .target(name: "Firms", dependencies: ["Solvers", "Gravity", "HATModel"]),
        .target(name: "HATConfig", dependencies: ["HATModel", "Equilibrium", "Gravity", "Checksum", "Firms",
                                                  .product(name: "TOMLKit", package: "TOMLKit")]),
        .target(name: "Output", dependencies: ["Analysis", "Equilibrium", "HATConfig", "Gravity", "Storage", "Parallel", "Solvers", "Checksum"]),
        .target(name: "Calibration", dependencies: ["Checksum", "Equilibrium", "Gravity", "HATConfig", "HATModel", "Output", "Parallel", "Solvers", "Storage"]),
        // Household analysis: elasticities, MPCs, cross-section, welfare (EV), the planner (HAT-SPEC §6).
        .target(name: "Analysis", dependencies: ["HATModel", "Equilibrium", "HATConfig", "Parallel", "Solvers"], swiftSettings: kernelFlags),
        // One command's run into one output folder: preflight checks, the solve, calibration and
        // counterfactual jobs, the baseline check, committing outputs, exit codes.
        .target(name: "Runs", dependencies: ["Analysis", "Calibration", "Firms", "Equilibrium", "Gravity", "HATConfig", "HATModel", "Output", "Parallel", "Solvers", "Storage"],
                swiftSettings: kernelFlags),
        // The σε × γ sweep: points over rank groups, the ψ̃ secant, the table, the elasticity target.
        .target(name: "Sweeps", dependencies: ["Analysis", "Calibration", "Equilibrium", "Gravity", "HATConfig", "Output", "Parallel", "Runs", "Solvers", "Storage"],
                swiftSettings: kernelFlags),
        // The timed cases of `hat bench` (timing, not tests).
        .target(name: "Benchmarks", dependencies: ["Equilibrium", "HATConfig", "HATModel", "Output", "Parallel"],
                swiftSettings: kernelFlags),
        // The command line only: parsing, printing, exit codes.
        .executableTarget(name: "hat", dependencies: [
            "Firms",
            "HATConfig", "Equilibrium", "Gravity", "Output", "Parallel", "HATModel", "Calibration", "Storage", "Solvers", "Checksum", "Analysis",
            "Runs", "Sweeps", "Benchmarks",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: kernelFlags),

        // Helpers shared by the test targets: paths, the shared data, the process runner, reference numbers.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "HATModelTests", dependencies: ["HATModel", "Solvers", "Parallel", "TestSupport"]),
        .testTarget(name: "EquilibriumTests", dependencies: ["Equilibrium", "Firms", "HATConfig", "Output", "Storage", "Parallel", "HATModel", "Solvers", "TestSupport"]),
        .testTarget(name: "HATConfigTests", dependencies: ["HATConfig", "Equilibrium", "HATModel", "TestSupport",
                                                          .product(name: "TOMLKit", package: "TOMLKit")]),
        .testTarget(name: "GravityTests", dependencies: ["Gravity", "Solvers", "TestSupport"]),
        .testTarget(name: "FirmsTests", dependencies: ["Firms", "Gravity", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Equilibrium", "HATConfig", "HATModel", "Parallel", "TestSupport"]),
        // The job scripts on a real one-machine SLURM (installed and started by the tests).
        .testTarget(name: "SlurmTests", dependencies: ["TestSupport"]),
        .testTarget(name: "RunsTests", dependencies: ["Runs", "Sweeps", "Analysis", "HATConfig", "Output", "Parallel", "TestSupport"]),
        .testTarget(name: "CalibrationTests", dependencies: ["Calibration", "HATConfig", "Parallel", "Solvers", "TestSupport"]),
    ]
)
