#version 330 core
// Soft contact shadow on the face (arfx.render.contact): the face point's distance to the
// object, read from the object's distance field, darkens it through a multiplying blend
// (DST_COLOR, ZERO).
in vec3 v_position;
uniform mat4 u_object_from_camera;  // camera space -> the object's anchor space
uniform vec3 u_field_low;           // the field's box in anchor space, cm
uniform vec3 u_field_size;
uniform sampler3D u_distance;
uniform float u_radius;
uniform float u_strength;
out vec4 f_color;

void main() {
    vec3 p = (u_object_from_camera * vec4(v_position, 1.0)).xyz;
    vec3 t = (p - u_field_low) / u_field_size;
    if (any(lessThan(t, vec3(0.0))) || any(greaterThan(t, vec3(1.0)))) {
        discard;
    }
    float d = texture(u_distance, t).r;
    float closeness = clamp(1.0 - d / u_radius, 0.0, 1.0);
    float shade = u_strength * closeness * closeness;
    if (shade <= 0.002) {
        discard;
    }
    f_color = vec4(vec3(1.0 - shade), 1.0);
}
