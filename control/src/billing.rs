//! Billing: a month's rated usage, its projection, and CSV exports that reconcile with it.

use crate::context::OpContext;
use crate::metering::HOUR_MS;
use crate::{Control, Error};
use meridian_core::calendar::{format_utc, month_bounds};
use meridian_core::pricing::{Invoice, Money, project_month};

/// A month's bill so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthBill {
    /// "YYYY-MM".
    pub month: String,
    /// Rated usage of the month so far.
    pub invoice: Invoice,
    /// The total projected to the month's end at the same pace.
    pub projected: Money,
}

impl Control {
    /// The bill of the calendar month (UTC) holding `now`, so far.
    pub async fn billing_month(&self, ctx: &OpContext, now: i64) -> Result<MonthBill, Error> {
        let (start, end) = month_bounds(now);
        let invoice = self.usage_invoice(ctx, start, end).await?;
        let elapsed = u64::try_from((now - start) / 1000).unwrap_or(0);
        let length = u64::try_from((end - start) / 1000).unwrap_or(1);
        let projected = project_month(invoice.total(), elapsed, length);
        Ok(MonthBill {
            month: format_utc(start)[..7].to_owned(),
            invoice,
            projected,
        })
    }

    /// The month's invoice as CSV: one row per line, then the total (which equals their sum).
    pub async fn billing_invoice_csv(&self, ctx: &OpContext, now: i64) -> Result<String, Error> {
        let bill = self.billing_month(ctx, now).await?;
        let mut csv = String::from("description,quantity,unit,unit_price_usd,amount_usd\n");
        for line in bill.invoice.lines() {
            csv.push_str(&format!(
                "\"{}\",{},{},{},{}\n",
                line.description.replace('"', "\"\""),
                line.quantity,
                line.unit.metered_label(),
                line.unit_price.format_precise().trim_start_matches('$'),
                line.amount.format_precise().trim_start_matches('$'),
            ));
        }
        csv.push_str(&format!(
            "\"Total\",,,,{}\n",
            bill.invoice.total().format_precise().trim_start_matches('$')
        ));
        Ok(csv)
    }

    /// The month's metered usage as CSV, one row per hour, kind and resource.
    pub async fn billing_usage_csv(&self, ctx: &OpContext, now: i64) -> Result<String, Error> {
        let (start, end) = month_bounds(now);
        let mut csv = String::from("hour_start_utc,hour_end_utc,kind,resource,size,zone,quantity\n");
        for row in self.usage_list(ctx, start, end).await? {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                format_utc(row.hour_start),
                format_utc(row.hour_start + HOUR_MS),
                row.kind,
                row.resource_id,
                row.size,
                row.zone,
                row.quantity
            ));
        }
        Ok(csv)
    }
}
