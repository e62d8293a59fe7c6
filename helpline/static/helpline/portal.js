// Tell the server the browser's time zone, so the portal shows times in the viewer's zone.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) return;
    var current = document.cookie.match(/(?:^|;\s*)helpline_tz=([^;]*)/);
    if (!/^[A-Za-z0-9_+\/-]+$/.test(zone)) return;
    if (current && current[1] === zone) return;
    document.cookie = "helpline_tz=" + zone +
      ";path=/;max-age=31536000;SameSite=Lax";
  } catch (e) { /* Without it, times stay in the help desk's zone. */ }
  // After a failed submit, move focus to the summary of problems (screen readers announce it).
  document.addEventListener("DOMContentLoaded", function () {
    var problems = document.getElementById("form-problems");
    if (problems) problems.focus();
  });
})();
