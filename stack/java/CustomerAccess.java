// Per-customer access on the Thrift Server: each customer's login reads only its own
// rows of the tables and views of schema `shared`, enforced by the server for every
// statement and every metadata call, whatever the client.
//
// Who is who comes from the stack's LDAP directory, looked up per login and cached for
// a few seconds (so adding a user or a customer needs no restart):
//   - a member of the analysts group (EdTech Co's analysts, dbt, the stack's own checks)
//     has full access;
//   - a member of one or more customer groups (cn=<customer_id>,ou=customers,...) is a
//     customer login;
//   - any other login reads nothing.
//
// For a customer login:
//   1. Guard (a post-hoc resolution rule: the statement is resolved, not yet run) puts
//      `customer_id IN (<its customers>)` above every table and view of schema `shared`,
//      so their rows are the customer's own;
//   2. and refuses, before that, any statement that reads a relation other than those:
//      tables and views of other schemas, files by path (json.`hdfs://...`), another
//      catalog, a table's metadata tables; subqueries and CTEs included. A table or view
//      of `shared` without a customer_id column is refused too. Commands other
//      than SET/RESET/USE, SHOW DATABASES, and SHOW TABLES / DESCRIBE / SHOW COLUMNS on
//      `shared` are refused (no CREATE VIEW over a mart, no CACHE, no EXPLAIN, no ADD
//      JAR), as are reflect/java_method and input_file_name;
//   3. Authorizer (HiveServer2's authorization plugin) refuses the protocol's metadata
//      calls (GetTables, GetColumns: JDBC's DatabaseMetaData) on anything but `shared`.
// A statement with no login (the server's own) is not checked.
//
// Configured by spark-defaults.conf (spark.edtrack.access.*, static: a session's SET
// cannot change them); without spark.edtrack.access.ldap.url everything is allowed.
// Compiled by `edtrack stack up` against pyspark's jars.
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Hashtable;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import javax.naming.Context;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.DirContext;
import javax.naming.directory.InitialDirContext;
import javax.naming.directory.SearchControls;
import javax.naming.directory.SearchResult;
import javax.naming.ldap.Rdn;
import org.apache.hadoop.hive.conf.HiveConf;
import org.apache.hadoop.hive.ql.security.HiveAuthenticationProvider;
import org.apache.hadoop.hive.ql.security.authorization.plugin.HiveAccessControlException;
import org.apache.hadoop.hive.ql.security.authorization.plugin.HiveAuthorizer;
import org.apache.hadoop.hive.ql.security.authorization.plugin.HiveAuthorizerFactory;
import org.apache.hadoop.hive.ql.security.authorization.plugin.HiveAuthzPluginException;
import org.apache.hadoop.hive.ql.security.authorization.plugin.HiveAuthzSessionContext;
import org.apache.hadoop.hive.ql.security.authorization.plugin.HiveMetastoreClientFactory;
import org.apache.hadoop.hive.ql.security.authorization.plugin.HiveOperationType;
import org.apache.hadoop.hive.ql.security.authorization.plugin.HivePrivilegeObject;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.CurrentUserContext;
import org.apache.spark.sql.catalyst.TableIdentifier;
import org.apache.spark.sql.catalyst.analysis.AnalysisContext;
import org.apache.spark.sql.catalyst.analysis.ResolvedNamespace;
import org.apache.spark.sql.catalyst.analysis.UnresolvedRelation;
import org.apache.spark.sql.catalyst.catalog.CatalogTable;
import org.apache.spark.sql.catalyst.catalog.HiveTableRelation;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.CallMethodViaReflection;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.In;
import org.apache.spark.sql.catalyst.expressions.InputFileBlockLength;
import org.apache.spark.sql.catalyst.expressions.InputFileBlockStart;
import org.apache.spark.sql.catalyst.expressions.InputFileName;
import org.apache.spark.sql.catalyst.expressions.Literal;
import org.apache.spark.sql.catalyst.expressions.SubqueryExpression;
import org.apache.spark.sql.catalyst.plans.logical.CTERelationRef;
import org.apache.spark.sql.catalyst.plans.logical.DescribeRelation;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.Filter;
import org.apache.spark.sql.catalyst.plans.logical.LeafNode;
import org.apache.spark.sql.catalyst.plans.logical.LocalRelation;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.OneRowRelation;
import org.apache.spark.sql.catalyst.plans.logical.Range;
import org.apache.spark.sql.execution.command.ResetCommand;
import org.apache.spark.sql.catalyst.plans.logical.SetCatalogAndNamespace;
import org.apache.spark.sql.catalyst.plans.logical.ShowColumns;
import org.apache.spark.sql.catalyst.plans.logical.ShowNamespaces;
import org.apache.spark.sql.catalyst.plans.logical.ShowTables;
import org.apache.spark.sql.catalyst.plans.logical.UnaryCommand;
import org.apache.spark.sql.catalyst.plans.logical.View;
import org.apache.spark.sql.catalyst.rules.Rule;
import org.apache.spark.sql.catalyst.trees.TreeNodeTag;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.execution.command.DescribeColumnCommand;
import org.apache.spark.sql.execution.command.DescribeTableCommand;
import org.apache.spark.sql.execution.command.SetCommand;
import org.apache.spark.sql.execution.command.ShowColumnsCommand;
import org.apache.spark.sql.execution.command.ShowTablesCommand;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.execution.datasources.v2.DataSourceV2Relation;
import org.apache.spark.sql.types.DataTypes;
import scala.Option;
import scala.collection.JavaConverters;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractPartialFunction;
import scala.runtime.BoxedUnit;

public class CustomerAccess extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
  static final String PREFIX = "spark.edtrack.access.";

  /** spark.sql.extensions entry: the check and the row filter, one post-hoc rule. */
  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectPostHocResolutionRule(
        new AbstractFunction1<SparkSession, Rule<LogicalPlan>>() {
          @Override
          public Rule<LogicalPlan> apply(SparkSession session) {
            return new Guard();
          }
        });
    return BoxedUnit.UNIT;
  }

  /** A refused statement or metadata call: the message says what and why. */
  public static class AccessDenied extends RuntimeException {
    AccessDenied(String message) {
      super(message);
    }
  }

  /** What a login may read: everything, or the rows of some customers. */
  static final class Grant {
    final String user;
    final boolean analyst;
    final List<String> customers;
    final long expires;

    Grant(String user, boolean analyst, List<String> customers, long expires) {
      this.user = user;
      this.analyst = analyst;
      this.customers = customers;
      this.expires = expires;
    }

    String who() {
      return customers.isEmpty()
          ? "user '" + user + "'"
          : "user '" + user + "' (customer " + String.join(", ", customers) + ")";
    }
  }

  /** The directory's answer for a login, cached for spark.edtrack.access.cacheSeconds. */
  static final class Directory {
    private static volatile Directory instance;
    final String url;
    final String bindDn;
    final String passwordFile;
    final String peopleDn;
    final String customersDn;
    final String analystsDn;
    final String sharedSchema;
    final long cacheMillis;
    private final Map<String, Grant> cache = new ConcurrentHashMap<>();

    private Directory(SparkConf conf) {
      url = conf.get(PREFIX + "ldap.url", "");
      bindDn = conf.get(PREFIX + "ldap.bindDn", "");
      passwordFile = conf.get(PREFIX + "ldap.passwordFile", "");
      peopleDn = conf.get(PREFIX + "ldap.peopleDn", "");
      customersDn = conf.get(PREFIX + "ldap.customersDn", "");
      analystsDn = conf.get(PREFIX + "ldap.analystsDn", "");
      sharedSchema = conf.get(PREFIX + "sharedSchema", "shared").toLowerCase(Locale.ROOT);
      cacheMillis = (long) (Double.parseDouble(conf.get(PREFIX + "cacheSeconds", "5")) * 1000);
    }

    static Directory get() {
      if (instance == null) {
        synchronized (Directory.class) {
          if (instance == null) {
            instance = new Directory(SparkEnv.get().conf());
          }
        }
      }
      return instance;
    }

    boolean enabled() {
      return !url.isEmpty();
    }

    /** The grant of the statement's login; null when there is none to check. */
    Grant current() {
      String user = CurrentUserContext.CURRENT_USER().get();
      if (!enabled() || user == null) {
        return null;
      }
      return grantOf(user);
    }

    Grant grantOf(String user) {
      long now = System.currentTimeMillis();
      Grant cached = cache.get(user);
      if (cached != null && cached.expires > now) {
        return cached;
      }
      Grant fresh = lookUp(user, now + cacheMillis);
      cache.put(user, fresh);
      return fresh;
    }

    private Grant lookUp(String user, long expires) {
      String userDn = "uid=" + Rdn.escapeValue(user) + "," + peopleDn;
      DirContext ctx = null;
      try {
        Hashtable<String, String> env = new Hashtable<>();
        env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.ldap.LdapCtxFactory");
        env.put(Context.PROVIDER_URL, url);
        env.put(Context.SECURITY_AUTHENTICATION, "simple");
        env.put(Context.SECURITY_PRINCIPAL, bindDn);
        env.put(Context.SECURITY_CREDENTIALS, readPassword());
        env.put("com.sun.jndi.ldap.connect.timeout", "5000");
        env.put("com.sun.jndi.ldap.read.timeout", "5000");
        ctx = new InitialDirContext(env);
        SearchControls base = new SearchControls();
        base.setSearchScope(SearchControls.OBJECT_SCOPE);
        base.setReturningAttributes(new String[] {"cn"});
        boolean analyst =
            ctx.search(analystsDn, "(member={0})", new Object[] {userDn}, base).hasMore();
        SearchControls below = new SearchControls();
        below.setSearchScope(SearchControls.ONELEVEL_SCOPE);
        below.setReturningAttributes(new String[] {"cn"});
        TreeSet<String> customers = new TreeSet<>();
        NamingEnumeration<SearchResult> groups =
            ctx.search(
                customersDn,
                "(&(objectClass=groupOfNames)(member={0}))",
                new Object[] {userDn},
                below);
        while (groups.hasMore()) {
          customers.add(String.valueOf(groups.next().getAttributes().get("cn").get()));
        }
        return new Grant(
            user, analyst, Collections.unmodifiableList(new ArrayList<>(customers)), expires);
      } catch (NamingException | IOException e) {
        // Closed: no answer from the directory grants nothing.
        throw new AccessDenied(
            "Access denied: the directory at "
                + url
                + " could not be asked for the grants of user '"
                + user
                + "' ("
                + e
                + "); try again when it is back.");
      } finally {
        if (ctx != null) {
          try {
            ctx.close();
          } catch (NamingException ignored) {
            // the answer is already read
          }
        }
      }
    }

    private String readPassword() throws IOException {
      return new String(Files.readAllBytes(Paths.get(passwordFile)), StandardCharsets.UTF_8)
          .trim();
    }

    boolean isShared(String database) {
      return database != null && database.toLowerCase(Locale.ROOT).equals(sharedSchema);
    }

    AccessDenied nothing(Grant grant) {
      return new AccessDenied(
          "Access denied: "
              + grant.who()
              + " is neither an analyst nor a member of a customer group; an administrator"
              + " grants access with `edtrack users add`.");
    }

    AccessDenied refused(Grant grant, String what) {
      return new AccessDenied(
          "Access denied: "
              + grant.who()
              + " may read only schema "
              + sharedSchema
              + ", not "
              + what
              + ".");
    }
  }

  private static <T> List<T> list(scala.collection.Seq<T> seq) {
    return JavaConverters.seqAsJavaList(seq);
  }

  private static String database(Option<String> db) {
    return db.isDefined() ? db.get() : null;
  }

  static final TreeNodeTag<Boolean> FILTERED = new TreeNodeTag<>("edtrack.customerFilter");

  /**
   * For a customer login: refuses what it may not read (Check), then puts `customer_id IN
   * (...)` above each table and view of the shared schema. Runs once the statement is
   * resolved, so a refused statement never runs; a subquery is resolved, and guarded, on
   * its own too.
   */
  static final class Guard extends Rule<LogicalPlan> {
    @Override
    public LogicalPlan apply(LogicalPlan plan) {
      Directory directory = Directory.get();
      Grant grant = directory.current();
      if (grant == null || grant.analyst) {
        return plan;
      }
      if (grant.customers.isEmpty()) {
        throw directory.nothing(grant);
      }
      if (AnalysisContext.get().nestedViewDepth() > 0) {
        // A view's body, resolved while Spark resolves the view: whether the view may be
        // read is decided on the statement, where the view is a View node.
        return plan;
      }
      Check.walk(plan, directory, grant);
      return plan.transformUpWithSubqueries(
          new AbstractPartialFunction<LogicalPlan, LogicalPlan>() {
            @Override
            public boolean isDefinedAt(LogicalPlan node) {
              return shared(node, directory) != null && node.getTagValue(FILTERED).isEmpty();
            }

            @Override
            public LogicalPlan apply(LogicalPlan node) {
              node.setTagValue(FILTERED, true);
              List<Expression> values = new ArrayList<>();
              for (String c : grant.customers) {
                values.add(Literal.create(c, DataTypes.StringType));
              }
              return new Filter(
                  new In(customerColumn(node), JavaConverters.asScalaBuffer(values).toSeq()),
                  node);
            }
          });
    }
  }

  /**
   * The name of a table or view of the shared schema that ``node`` reads whole (a view,
   * or a table's relation); null for anything else. A table's metadata tables
   * (shared.t.snapshots) are in another namespace, so not shared.
   */
  static String shared(LogicalPlan node, Directory directory) {
    TableIdentifier id = null;
    if (node instanceof View && !((View) node).isTempView()) {
      id = ((View) node).desc().identifier();
    } else if (node instanceof HiveTableRelation) {
      id = ((HiveTableRelation) node).tableMeta().identifier();
    } else if (node instanceof LogicalRelation
        && ((LogicalRelation) node).catalogTable().isDefined()) {
      id = ((LogicalRelation) node).catalogTable().get().identifier();
    } else if (node instanceof DataSourceV2Relation
        && ((DataSourceV2Relation) node).identifier().isDefined()) {
      Identifier v2 = ((DataSourceV2Relation) node).identifier().get();
      return v2.namespace().length == 1 && directory.isShared(v2.namespace()[0])
          ? v2.namespace()[0] + "." + v2.name()
          : null;
    }
    return id != null && directory.isShared(database(id.database())) ? id.unquotedString() : null;
  }

  /** The customer_id column of a shared table or view; null when it has none. */
  static Attribute customerColumn(LogicalPlan node) {
    for (Attribute a : list(node.output())) {
      if (a.name().equalsIgnoreCase("customer_id")) {
        return a;
      }
    }
    return null;
  }

  /** What a customer login may not read (see the file's comment). */
  static final class Check {
    static void walk(LogicalPlan node, Directory directory, Grant grant) {
      String name = shared(node, directory);
      if (name != null) {
        if (customerColumn(node) == null) {
          throw new AccessDenied(
              "Access denied: "
                  + name
                  + " has no customer_id column, so its rows cannot be limited to "
                  + grant.who()
                  + "; ask EdTech Co to add one.");
        }
        return; // its rows are filtered above it (Guard); what a view reads is not checked
      }
      if (node instanceof View && !((View) node).isTempView()) {
        throw directory.refused(grant, "the view " + ((View) node).desc().identifier().unquotedString());
      }
      if (node instanceof Command) {
        checkCommand(node, directory, grant);
        return;
      }
      if (node instanceof LeafNode
          && !(node instanceof LocalRelation
              || node instanceof OneRowRelation
              || node instanceof Range
              || node instanceof CTERelationRef)) {
        throw directory.refused(grant, describe(node));
      }
      for (Expression e : list(node.expressions())) {
        walkExpression(e, directory, grant);
      }
      for (LogicalPlan child : list(node.children())) {
        walk(child, directory, grant);
      }
    }

    private static void walkExpression(Expression e, Directory directory, Grant grant) {
      if (e instanceof CallMethodViaReflection) {
        throw directory.refused(grant, "the function " + e.prettyName());
      }
      if (e instanceof InputFileName
          || e instanceof InputFileBlockStart
          || e instanceof InputFileBlockLength) {
        throw directory.refused(grant, "the function " + e.prettyName());
      }
      if (e instanceof SubqueryExpression) {
        walk(((SubqueryExpression) e).plan(), directory, grant);
      }
      for (Expression child : list(e.children())) {
        walkExpression(child, directory, grant);
      }
    }

    private static void checkCommand(LogicalPlan node, Directory directory, Grant grant) {
      if (node instanceof SetCommand
          || node instanceof ResetCommand
          || node instanceof SetCatalogAndNamespace
          || node instanceof ShowNamespaces) {
        return;
      }
      String database = null;
      String what = "the command " + node.nodeName();
      if (node instanceof ShowTablesCommand && !((ShowTablesCommand) node).isExtended()) {
        database = database(((ShowTablesCommand) node).databaseName());
        what = "the tables of " + database;
      } else if (node instanceof ShowTables
          && ((ShowTables) node).namespace() instanceof ResolvedNamespace) {
        List<String> ns = list(((ResolvedNamespace) ((ShowTables) node).namespace()).namespace());
        database = ns.size() == 1 ? ns.get(0) : String.join(".", ns);
        what = "the tables of " + database;
      } else if (node instanceof DescribeTableCommand) {
        TableIdentifier id = ((DescribeTableCommand) node).table();
        database = database(id.database());
        what = "the columns of " + id.unquotedString();
      } else if (node instanceof DescribeColumnCommand) {
        TableIdentifier id = ((DescribeColumnCommand) node).table();
        database = database(id.database());
        what = "the columns of " + id.unquotedString();
      } else if (node instanceof DescribeRelation || node instanceof ShowColumns) {
        // The catalog's own (v2) forms, over a resolved table: refused outside `shared`.
        LogicalPlan target = ((UnaryCommand) node).child();
        String name = identifierOf(target);
        database = name == null ? null : namespaceOf(target);
        what = "the columns of " + (name == null ? target.nodeName() : name);
      } else if (node instanceof ShowColumnsCommand) {
        ShowColumnsCommand show = (ShowColumnsCommand) node;
        database =
            show.databaseName().isDefined()
                ? show.databaseName().get()
                : database(show.tableName().database());
        what = "the columns of " + show.tableName().unquotedString();
      }
      if (!directory.isShared(database)) {
        throw directory.refused(grant, what);
      }
    }

    /** A resolved table's identifier (ResolvedTable and its kin name it), or null. */
    private static Identifier identifier(LogicalPlan node) {
      try {
        Object found = node.getClass().getMethod("identifier").invoke(node);
        return found instanceof Identifier ? (Identifier) found : null;
      } catch (ReflectiveOperationException e) {
        return null;
      }
    }

    private static String identifierOf(LogicalPlan node) {
      Identifier id = identifier(node);
      return id == null ? null : String.join(".", id.namespace()) + "." + id.name();
    }

    private static String namespaceOf(LogicalPlan node) {
      Identifier id = identifier(node);
      return id == null ? null : String.join(".", id.namespace());
    }

    private static String describe(LogicalPlan node) {
      if (node instanceof HiveTableRelation) {
        return "the table " + ((HiveTableRelation) node).tableMeta().identifier().unquotedString();
      }
      if (node instanceof LogicalRelation) {
        Option<CatalogTable> table = ((LogicalRelation) node).catalogTable();
        return table.isDefined()
            ? "the table " + table.get().identifier().unquotedString()
            : "files read by path";
      }
      if (node instanceof DataSourceV2Relation) {
        return "the table " + ((DataSourceV2Relation) node).table().name();
      }
      if (node instanceof UnresolvedRelation) {
        return "the table " + String.join(".", list(((UnresolvedRelation) node).multipartIdentifier()));
      }
      return "a relation of kind " + node.nodeName();
    }
  }

  /**
   * HiveServer2's authorization plugin (hive.security.authorization.manager): the
   * protocol's metadata calls. Statements never reach it (Spark plans them).
   */
  public static class AuthorizerFactory implements HiveAuthorizerFactory {
    @Override
    public HiveAuthorizer createHiveAuthorizer(
        HiveMetastoreClientFactory metastore,
        HiveConf conf,
        HiveAuthenticationProvider authenticator,
        HiveAuthzSessionContext context) {
      return (HiveAuthorizer)
          java.lang.reflect.Proxy.newProxyInstance(
              CustomerAccess.class.getClassLoader(),
              new Class<?>[] {HiveAuthorizer.class},
              (proxy, method, args) -> {
                switch (method.getName()) {
                  case "checkPrivileges":
                    // The Thrift Server's metadata operations share one Hive session
                    // state, so the login is Spark's, set for each operation.
                    checkMetadata(
                        CurrentUserContext.CURRENT_USER().get(),
                        (HiveOperationType) args[0],
                        (List<?>) args[1]);
                    return null;
                  case "filterListCmdObjects":
                    return args[0];
                  case "applyAuthorizationConfigPolicy":
                    return null;
                  case "getVersion":
                    return HiveAuthorizer.VERSION.V1;
                  case "needTransform":
                    return false;
                  case "applyRowFilterAndColumnMasking":
                    return Collections.emptyList();
                  case "getCurrentRoleNames":
                  case "getAllRoles":
                    return Collections.emptyList();
                  case "getHiveAuthorizationTranslator":
                    return null;
                  case "hashCode":
                    return System.identityHashCode(proxy);
                  case "equals":
                    return proxy == args[0];
                  case "toString":
                    return "CustomerAccess.Authorizer";
                  default:
                    throw new HiveAuthzPluginException(
                        method.getName() + " is not supported: grants follow LDAP groups");
                }
              });
    }

    static void checkMetadata(String user, HiveOperationType op, List<?> objects)
        throws HiveAccessControlException {
      Directory directory = Directory.get();
      if (!directory.enabled() || user == null) {
        return;
      }
      Grant grant;
      try {
        grant = directory.grantOf(user);
        if (grant.analyst) {
          return;
        }
        if (grant.customers.isEmpty()) {
          throw directory.nothing(grant);
        }
      } catch (AccessDenied e) {
        throw new HiveAccessControlException(e.getMessage());
      }
      if (op != HiveOperationType.GET_TABLES && op != HiveOperationType.GET_COLUMNS) {
        return; // schema names, functions, types: nothing of any customer's data
      }
      for (Object o : objects == null ? Collections.emptyList() : objects) {
        HivePrivilegeObject object = (HivePrivilegeObject) o;
        if (!directory.isShared(object.getDbname())) {
          throw new HiveAccessControlException(
              directory
                  .refused(
                      grant,
                      (op == HiveOperationType.GET_COLUMNS ? "the columns of " : "the tables of ")
                          + object.getDbname()
                          + (op == HiveOperationType.GET_COLUMNS
                              ? "." + object.getObjectName()
                              : ""))
                  .getMessage());
        }
      }
    }
  }
}
