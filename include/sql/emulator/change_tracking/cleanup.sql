-- Change Tracking's cleanup: changes older than the retention go and the minimum valid versions rise; how many went.
select dbo.change_tracking_cleanup(make_interval(secs => %(older_than)s))
