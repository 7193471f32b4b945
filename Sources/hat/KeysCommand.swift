import ArgumentParser
import Foundation
import Runs
import HATConfig

/// `hat keys`: every key of a run configuration and of a sweep specification with its type, default, valid
/// values and help (from `ConfigurationKeys`); `--markdown` prints docs/CONFIGURATION.md.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "List every configuration key with its type, default and valid range.",
        discussion: """
        Two kinds of file: a run configuration (CONFIG of hat solve, calibrate, counterfactual, planner and \
        bench) and a sweep specification (SPEC of hat sweep). Keys are grouped by kind and TOML table, each line \
        giving the dotted name, the type, the default and the help, ending in the valid values. --set takes a \
        run configuration's dotted name (e.g. --set model.gamma=1.2). "required" keys must be given; a default \
        applies when a key is left out.
        --markdown prints the reference docs/CONFIGURATION.md (scripts/gen-config-docs.sh writes it there).
        """)

    @Flag(help: "Print the reference docs/CONFIGURATION.md (Markdown, one table per TOML table) instead.")
    var markdown = false

    func run() throws {
        print(markdown ? ConfigurationKeys.markdown() : ConfigurationKeys.listing())
        if !Console.flushOutput() {
            Console.error("error: cannot write the keys to standard output (closed or full)")
            Foundation.exit(HatExit.io)
        }
    }
}
