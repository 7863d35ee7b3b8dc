// Runs jdci's Jenkinsfiles and shared-library steps outside Jenkins, recording every step they call.
// A Jenkinsfile is Groovy: `pipeline { ... }`, `stage('x') { ... }`, `sh '...'` are method calls with closures,
// so a script base class that records unknown calls (and runs their closures) can execute it.
//   groovy harness.groovy SCENARIOS.json    ->   one JSON object: scenario name -> {calls, result, error}
import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import org.codehaus.groovy.control.CompilerConfiguration

abstract class Recording extends Script {
    List calls = []
    Map shStatus = [:]   // a substring of the command -> the exit status `sh` returns for it
    Map jsonFiles = [:]  // file name -> what readJSON returns

    def record(String name, List args) {
        calls << [step: name, args: args.collect { it instanceof Closure ? '{...}' : it }]
    }
    def methodMissing(String name, Object argsObject) {
        List args = argsObject as List
        record(name, args)
        args.findAll { it instanceof Closure }.each { Closure body ->
            body.delegate = this
            body.resolveStrategy = Closure.DELEGATE_FIRST
            body.call()
        }
        return null
    }
    def propertyMissing(String name) { return name }  // `agent any`, `_`
    def sh(String script) { return sh(script: script) }
    def sh(Map options) {
        record('sh', [options.script])
        def hit = shStatus.find { key, value -> options.script.contains(key) }
        int status = hit ? hit.value as int : 0
        if (status != 0 && !options.returnStatus) { throw new RuntimeException("script returned exit code ${status}") }
        return options.returnStatus ? status : ''
    }
    def readJSON(Map options) { record('readJSON', [options.file]); return jsonFiles[options.file] ?: [:] }
    def error(String message) { record('error', [message]); throw new RuntimeException("error: ${message}") }
    def unstable(String message) { record('unstable', [message]) }
    def credentials(String id) { record('credentials', [id]); return "credentials:${id}" }
}

def scenarios = new JsonSlurper().parse(new File(args[0]))
def out = [:]
scenarios.each { Map scenario ->
    def config = new CompilerConfiguration()
    config.scriptBaseClass = Recording.name
    def shell = new GroovyShell(this.class.classLoader, new Binding(), config)
    // `@Library('jdci') _` loads the shared library in Jenkins; here its steps are recorded calls
    String text = new File(scenario.file).text.readLines().findAll { !it.trim().startsWith('@Library') }.join('\n')
    Recording script = shell.parse(text) as Recording
    script.setShStatus(scenario.shStatus ?: [:])  // Script.setProperty would put it in the binding instead
    script.setJsonFiles(scenario.jsonFiles ?: [:])
    def entry = [calls: script.calls]
    try {
        entry.result = scenario.call != null ? script.invokeMethod('call', [scenario.call] as Object[]) : script.run()
    } catch (Exception e) {
        entry.error = e.message
    }
    out[scenario.name] = entry
}
println JsonOutput.toJson(out)
