// Iceberg's session catalog as the Thrift Server's spark_catalog, with two fixes.
//
// 1. Dropping a table that is not Iceberg's. Iceberg's SparkSessionCatalog (1.10 and
// 1.11) drops any table through its Hive catalog first, which removes a plain Hive table
// from the metastore without deleting its files (apache/iceberg#12790): the next CREATE
// TABLE of that name then fails with LOCATION_ALREADY_EXISTS (a dbt seed does exactly
// that on every run). Here such a table is dropped by Spark's own catalog, which deletes
// a managed table's files, as Spark without Iceberg does. An Iceberg table in its
// schema's folder loses its folder too (Iceberg keeps every file unless purged), so a
// model can be created again under its name in another format.
//
// 2. Listing (IcebergSessionCatalog$Listing, a session extension). SHOW TABLE EXTENDED
// describes every table of the session catalog from its metastore entry, and an Iceberg
// table's entry says `Provider: hive`. dbt-spark takes each table's format from that
// text, so in any dbt project it would take an Iceberg table for a Hive table: refuse a
// snapshot into it, drop a table model before rebuilding it (readers then find no
// table). The extension's parser puts `Provider: iceberg` in the listing of a table whose
// entry has table_type=ICEBERG.
//
// Compiled by `edtrack stack up` against pyspark's and Iceberg's jars.
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.iceberg.spark.SparkSessionCatalog;
import org.apache.iceberg.spark.source.SparkTable;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.TableIdentifier;
import org.apache.spark.sql.catalyst.analysis.NoSuchNamespaceException;
import org.apache.spark.sql.catalyst.analysis.NoSuchTableException;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.parser.ParseException;
import org.apache.spark.sql.catalyst.parser.ParserInterface;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.Project;
import org.apache.spark.sql.catalyst.plans.logical.ShowTableExtended;
import org.apache.spark.sql.connector.catalog.CatalogPlugin;
import org.apache.spark.sql.connector.catalog.FunctionCatalog;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.connector.catalog.SupportsNamespaces;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableCatalog;
import org.apache.spark.sql.connector.catalog.ViewCatalog;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;
import scala.collection.Seq;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

public class IcebergSessionCatalog<
        T extends TableCatalog & FunctionCatalog & SupportsNamespaces & ViewCatalog>
    extends SparkSessionCatalog<T> {
  private TableCatalog spark;

  @Override
  public void setDelegateCatalog(CatalogPlugin delegate) {
    super.setDelegateCatalog(delegate);
    spark = (TableCatalog) delegate;
  }

  private boolean isIceberg(Identifier ident) {
    try {
      return loadTable(ident) instanceof SparkTable;
    } catch (NoSuchTableException e) {
      return false;
    }
  }

  @Override
  public boolean dropTable(Identifier ident) {
    SparkTable table;
    try {
      Table loaded = loadTable(ident);
      if (!(loaded instanceof SparkTable)) {
        return spark.dropTable(ident);
      }
      table = (SparkTable) loaded;
    } catch (NoSuchTableException e) {
      return false;
    }
    String location = table.table().location();
    boolean dropped = super.dropTable(ident);
    if (dropped && location.equalsIgnoreCase(defaultLocation(ident))) {
      // As Spark drops a managed table: its folder goes, so the name can be created
      // again in any format. Iceberg itself keeps every file unless told to purge.
      try {
        Path folder = new Path(location);
        Configuration conf = SparkSession.active().sessionState().newHadoopConf();
        folder.getFileSystem(conf).delete(folder, true);
      } catch (IOException e) {
        throw new UncheckedIOException("Could not delete " + location + " of " + ident, e);
      }
    }
    return dropped;
  }

  /** Where a table of this name is created when no location is given. */
  private String defaultLocation(Identifier ident) {
    try {
      String schema = loadNamespaceMetadata(ident.namespace()).get(SupportsNamespaces.PROP_LOCATION);
      return schema == null ? "" : schema.replaceAll("/+$", "") + "/" + ident.name();
    } catch (NoSuchNamespaceException e) {
      return "";
    }
  }

  @Override
  public boolean purgeTable(Identifier ident) {
    return isIceberg(ident) ? super.purgeTable(ident) : spark.purgeTable(ident);
  }

  /** spark.sql.extensions entry: the listing parser, after Iceberg's own extensions. */
  public static class Listing extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
    @Override
    public BoxedUnit apply(SparkSessionExtensions extensions) {
      extensions.injectParser(
          new AbstractFunction2<SparkSession, ParserInterface, ParserInterface>() {
            @Override
            public ParserInterface apply(SparkSession session, ParserInterface parser) {
              return new ListingParser(parser);
            }
          });
      return BoxedUnit.UNIT;
    }
  }

  /** The session's parser, with SHOW TABLE EXTENDED's information naming Iceberg. */
  static class ListingParser implements ParserInterface {
    // The listing's own columns, with `information` corrected: a projection over the
    // command's output, resolved by name as any query's.
    private static final String PROJECTION =
        "select namespace, tableName, isTemporary, case"
            + " when information rlike 'table_type=ICEBERG(,|])'"
            + " then regexp_replace(information, '(?m)^Provider: hive$', 'Provider: iceberg')"
            + " else information end as information from listing";

    private final ParserInterface delegate;

    ListingParser(ParserInterface delegate) {
      this.delegate = delegate;
    }

    @Override
    public LogicalPlan parsePlan(String sqlText) throws ParseException {
      LogicalPlan plan = delegate.parsePlan(sqlText);
      if (plan instanceof ShowTableExtended
          && ((ShowTableExtended) plan).partitionSpec().isEmpty()) {
        Project projection = (Project) delegate.parsePlan(PROJECTION);
        return new Project(projection.projectList(), plan);
      }
      return plan;
    }

    @Override
    public Expression parseExpression(String sqlText) throws ParseException {
      return delegate.parseExpression(sqlText);
    }

    @Override
    public TableIdentifier parseTableIdentifier(String sqlText) throws ParseException {
      return delegate.parseTableIdentifier(sqlText);
    }

    @Override
    public FunctionIdentifier parseFunctionIdentifier(String sqlText) throws ParseException {
      return delegate.parseFunctionIdentifier(sqlText);
    }

    @Override
    public Seq<String> parseMultipartIdentifier(String sqlText) throws ParseException {
      return delegate.parseMultipartIdentifier(sqlText);
    }

    @Override
    public LogicalPlan parseQuery(String sqlText) throws ParseException {
      return delegate.parseQuery(sqlText);
    }

    @Override
    public StructType parseTableSchema(String sqlText) throws ParseException {
      return delegate.parseTableSchema(sqlText);
    }

    @Override
    public DataType parseDataType(String sqlText) throws ParseException {
      return delegate.parseDataType(sqlText);
    }
  }
}
