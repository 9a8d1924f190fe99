#version 330 core
// The tracked face mesh (camera space, cm) for the depth debug view: passes each vertex's
// camera-space depth on. gl_Position is computed as face.vert does, so depths match the occluder's.
in vec3 in_position;
uniform mat4 u_projection;
out float v_depth;
invariant gl_Position;

void main() {
    v_depth = -in_position.z;
    gl_Position = u_projection * vec4(in_position, 1.0);
}
