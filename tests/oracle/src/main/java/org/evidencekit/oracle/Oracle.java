package org.evidencekit.oracle;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ValidationResult;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.NpmPackageValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import org.hl7.fhir.r5.model.OperationOutcome;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A long-lived FHIR R5 validator process for tests.
 *
 * <p>Arguments: names of FHIR NPM package .tgz files, found on the classpath, to load besides
 * the base R5 spec (terminology, extensions). Protocol: after warming up it prints {@code READY}; then for every line on
 * stdin (a file path) it prints one line of JSON {@code {"path": ..., "outcome": <OperationOutcome>}}.
 * An unreadable file gives an OperationOutcome with a fatal issue. Offline: no terminology server.
 */
public final class Oracle {
  private Oracle() {}

  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    FhirContext ctx = FhirContext.forR5Cached();
    NpmPackageValidationSupport npm = new NpmPackageValidationSupport(ctx);
    for (String pkg : args) {
      // package .tgz files are found on the classpath (the runner adds their directory)
      npm.loadPackageFromClasspath("classpath:" + pkg);
    }
    // The pinned packages come first: HAPI's bundled hl7.terminology 5.1.0 predates codes the
    // EBM profiles need (synthesis-type#NotApplicable is in THO 7.0.1, not in 5.1.0).
    ValidationSupportChain chain = new ValidationSupportChain(
        npm,
        new DefaultProfileValidationSupport(ctx),
        new CommonCodeSystemsTerminologyService(ctx),
        new InMemoryTerminologyServerValidationSupport(ctx),
        new SnapshotGeneratingValidationSupport(ctx));
    FhirInstanceValidator module = new FhirInstanceValidator(chain);
    module.setAnyExtensionsAllowed(false); // a misspelled or unknown extension is an error
    FhirValidator validator = ctx.newValidator().registerValidatorModule(module);
    IParser json = ctx.newJsonParser();

    // Warm up once so the first real answer is not slow.
    validator.validateWithResult("{\"resourceType\":\"Basic\",\"code\":{\"text\":\"warm-up\"}}");
    out.println("READY");

    BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = stdin.readLine()) != null) {
      String path = line.strip();
      if (path.isEmpty()) {
        continue;
      }
      OperationOutcome outcome;
      try {
        String text = Files.readString(Path.of(path), StandardCharsets.UTF_8);
        ValidationResult result = validator.validateWithResult(text);
        outcome = (OperationOutcome) result.toOperationOutcome();
      } catch (Exception e) {
        outcome = new OperationOutcome();
        outcome.addIssue()
            .setSeverity(OperationOutcome.IssueSeverity.FATAL)
            .setCode(OperationOutcome.IssueType.EXCEPTION)
            .setDiagnostics("oracle could not validate " + path + ": " + e);
      }
      String encoded = json.encodeResourceToString(outcome);
      out.println("{\"path\":" + quote(path) + ",\"outcome\":" + encoded + "}");
    }
  }

  private static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }
}
